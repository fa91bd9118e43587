"""What every image-to-video adapter shares: the tasks, the result, the asked length, downloads.

A video adapter is an image adapter whose `fetch` answers the clip's URL instead of bytes: the
clip is then downloaded here, streamed and capped, because clips are megabytes and a hostile or
broken CDN may announce (or send) gigabytes. Everything else is the image machinery: the Hub
mapping, slots, the error policy and one deadline per call (`transport.Call`).

The clip is not judged here (see `service.pipeline.clip`): the inference layer only promises
bytes that arrived whole and within the cap.
"""

from __future__ import annotations

import asyncio
import binascii
import io
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import httpx
from PIL import Image

from service.config.specs import VIDEO_TASKS
from service.constants import CLIP_MAX_BYTES
from service.errors import ConfigError, InvalidClip, ProviderDown, ProviderRejected
from service.inference.base import BuildContext, Request, Route
from service.inference.images import ImagePayload, decode_data_url, fit_size
from service.inference.transport import Call, PollPolicy
from service.retry import attempts

__all__ = ["VIDEO_TASKS", "ClipTicket", "VideoAdapter", "VideoResult"]

# Told each time a ticket changes (taken, clip URL known); None: forget it.
Remember = Callable[["ClipTicket | None"], Awaitable[None]]
PROMPTED_TASKS = frozenset({"image-text-to-video"})

# Clips take tens of seconds to minutes, and WaveSpeed asks for >= 5 s between video polls:
# 5 s for the first 30 s, then slower, up to 15 s. A one-minute clip costs about ten polls.
VIDEO_POLL = PollPolicy(interval=5.0, steady_for=30.0, factor=1.5, max_interval=15.0)

_LENGTH_KEYS = ("duration", "seconds")  # wavespeed / MiniMax, together
_FRAME_KEYS = ("num_frames",)  # huggingface_hub's name, fal's Wan
_RATE_KEYS = ("frames_per_second", "fps")  # fal's Wan, together


class VideoAdapter(Protocol):
    """One provider's wire protocol for image-to-video."""

    provider: str
    # The longest image data URL the provider takes (together: ~60 KB), or None.
    max_image_chars: int | None

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """The submit request for `image` with HF-task `parameters` (prompt, num_frames…)."""
        ...

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, submitted: Mapping[str, Any]
    ) -> str:
        """The finished clip's URL from the submit's answer (polling as needed).

        `submitted` is the answer's JSON, not the response: it is what a `ClipTicket` keeps,
        so a retried job polls the same request again instead of paying for a new one.
        """
        ...


@dataclass(frozen=True)
class ClipTicket:
    """A clip request that was paid for: who took it and how to find it again.

    Kept (by the pipeline's clip maker) from the moment a provider accepted the submit until
    the clip is safely stored, so a job retried after a broken download or a poll that ran
    out of time resumes the same request (`InferenceClient.image_to_video(ticket=…)`) instead
    of buying a second clip. It holds the provider's answer and, once known, the clip's URL;
    never a token.
    """

    provider: str
    provider_id: str
    task: str
    submitted: Mapping[str, Any]
    url: str | None = None
    created: float = 0.0

    def to_json(self) -> bytes:
        """The ticket as stored."""
        return json.dumps(asdict(self), default=dict).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ClipTicket | None:
        """A stored ticket, or None when it is not one (a newer or broken entry)."""
        try:
            data = json.loads(raw)
            ticket = cls(**data)
        except (ValueError, TypeError):
            return None
        ok = isinstance(ticket.submitted, dict) and isinstance(ticket.provider, str)
        return ticket if ok and (ticket.url is None or isinstance(ticket.url, str)) else None


@dataclass(frozen=True)
class VideoResult:
    """A clip as downloaded, who made it, and how long it was asked to be."""

    data: bytes
    provider: str
    provider_id: str
    task: str = "image-to-video"
    retries: int = 0
    seconds: float | None = None  # the duration asked, when the parameters say
    frames: int | None = None  # the frame count asked, when the parameters say
    note: str = ""
    resumed: bool = False  # downloaded (or polled) from a request paid for by an earlier try


def _number(value: Any) -> float | None:
    """A positive number from 5, 5.0, "5" or "5s"; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip().removesuffix("s").strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def asked_frames(parameters: Mapping[str, Any]) -> int | None:
    """The frame count the parameters ask for, if any."""
    for key in _FRAME_KEYS:
        if (n := _number(parameters.get(key))) is not None:
            return round(n)
    return None


def asked_seconds(parameters: Mapping[str, Any]) -> float | None:
    """The clip length the parameters ask for: a duration, or frames at a frame rate."""
    for key in _LENGTH_KEYS:
        if (seconds := _number(parameters.get(key))) is not None:
            return seconds
    frames = asked_frames(parameters)
    for key in _RATE_KEYS:
        if frames is not None and (rate := _number(parameters.get(key))) is not None:
            return frames / rate
    return None


def require_prompt(route: Route, parameters: Mapping[str, Any]) -> None:
    """`image-text-to-video` mappings need a prompt (fal answers 422 without one): say so first."""
    prompt = parameters.get("prompt")
    if route.task in PROMPTED_TASKS and not (isinstance(prompt, str) and prompt.strip()):
        raise ConfigError(
            f"{route.hf_model_id} is mapped as {route.task} on {route.provider}: it needs a "
            "prompt; give the model or the step one"
        )


def shrink_to_fit(image: ImagePayload, max_chars: int) -> ImagePayload:
    """A smaller JPEG of `image` whose data URL is at most `max_chars` long (blocking).

    together caps `input_image` near 60 KB: the photo is re-encoded, first at lower quality,
    then smaller, until it fits. A clip is made at 480p-720p, so little is lost.
    """
    if len(image.data_url()) <= max_chars:
        return image
    budget = (max_chars - len("data:image/jpeg;base64,")) * 3 // 4 - 16
    with Image.open(io.BytesIO(image.data)) as opened:
        picture = opened.convert("RGB")
    size = picture.size
    for quality in (85, 80, 75, 70, 65, 60, 55, 50, 45, 40):
        small = picture if size == picture.size else picture.resize(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= budget:
            return ImagePayload(buf.getvalue(), "image/jpeg", small.size)
        # Bytes grow about with pixels: aim a little under the budget at the next quality.
        pixels = size[0] * size[1] * budget / buf.tell() * 0.9
        size = fit_size(size, max(64 * 64, int(pixels)))
    raise ProviderRejected(f"the photo cannot be made to fit in {max_chars} characters")


async def fit_image(image: ImagePayload, max_chars: int | None) -> ImagePayload:
    """`shrink_to_fit` off the event loop, for providers with an input cap."""
    if max_chars is None or len(image.data_url()) <= max_chars:
        return image
    return await asyncio.to_thread(shrink_to_fit, image, max_chars)


def _too_large(provider: str, size: int | None, max_bytes: int, how: str) -> InvalidClip:
    """The clip refused for its size; `size` None when it was cut off while streaming: how far
    past the limit the download got depends on how the bytes were chunked on the way, and
    what is known is only that the clip is larger than the limit."""
    limit = f"{max_bytes / 2**20:.1f} MiB"
    if size is None:
        return InvalidClip(
            f"{provider}: the clip is more than {limit}, the limit; its download was cut off"
            " there and nothing was kept",
            reason="too-large",
        )
    return InvalidClip(
        f"{provider}: the clip is {how} {size / 2**20:.1f} MiB, over the {limit} limit;"
        " it was not kept",
        reason="too-large",
    )


def _announced(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


async def download_clip(call: Call, url: str, max_bytes: int = CLIP_MAX_BYTES) -> bytes:
    """The clip behind `url`, refused past `max_bytes` from its Content-Length or mid-stream.

    No token goes to the CDN (a third party). A body that breaks off is fetched again, within
    the call's deadline: the download is free, the clip is already paid for.
    """
    if not url.startswith(("http://", "https://")):
        if len(url) * 3 // 4 > max_bytes + 64:
            raise _too_large(call.provider, len(url) * 3 // 4, max_bytes, "announced as")
        try:
            return decode_data_url(url)
        except (binascii.Error, ValueError):
            raise ProviderDown(
                f"{call.provider}: the clip URL is neither http(s) nor base64"
            ) from None

    def counted(_wait: float) -> None:
        call.retries += 1

    for attempt in attempts(call.retry, sleep=call.sleep):
        try:
            return await _stream(call, url, max_bytes)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if not await attempt.again(budget=call.remaining(), announce=counted):
                raise ProviderDown(
                    f"{call.provider}: the clip download from {httpx.URL(url).path} broke off "
                    f"({type(exc).__name__}) {attempt.number} time(s)"
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


async def _stream(call: Call, url: str, max_bytes: int) -> bytes:
    response = await call.send("GET", url, stream=True)
    try:
        announced = _announced(response)
        if announced is not None and announced > max_bytes:
            raise _too_large(call.provider, announced, max_bytes, "announced as")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _too_large(call.provider, None, max_bytes, "more than")
            if call.remaining() <= 0:
                raise call.expired("the clip download did not finish")
    finally:
        await response.aclose()
    if not body:
        raise ProviderDown(f"{call.provider}: empty clip at {httpx.URL(url).path}")
    return bytes(body)
