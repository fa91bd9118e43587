"""A checked clip of a photo, paid for once: the cache, the inference client and the clip check.

    photo → the JPEG that leaves the machine → clip cache hit? → else the provider's clip
          (resuming a request an earlier try paid for, if there is one) → a whole MP4? (else
          refused, not kept) → kept in the clip cache → length, frames, first frame against the
          photo, audio stripped if asked → `Clip`

The cache key is that of image steps (the bytes sent, the model, the provider choice, the
parameters, the prompt), in a cache of its own. A clip is kept as soon as it is a whole MP4,
before its content is judged: it was paid for, and the same request would buy the same clip,
so a re-run with the same settings costs nothing and says the same thing; another prompt, seed
or model makes a new clip. Garbage (an HTML page, a cut-off file) is never kept.

Never paying twice also covers a try that fails after the provider took the request: the
client hands over a ticket (provider, its answer, later the clip's URL) the moment it is paid
for, kept beside the key until the clip is stored. A job retried after a poll ran out of time
or a download broke off resumes that request; a permanent failure drops the ticket, so
nothing is left behind. Tickets older than `CLIP_TICKET_TTL` are not trusted (providers
delete outputs after some days).

This is what the pipeline's video step calls (`pipeline.animate`); it knows nothing of jobs or
storage: it answers bytes and what was measured, or raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from service.config.catalog import ModelSpec
from service.constants import CLIP_MAX_BYTES, CLIP_TICKET_TTL
from service.errors import ConfigError, PermanentError
from service.inference import ImagePayload, InferenceClient, prepare_image_async
from service.inference.video import ClipTicket
from service.pipeline.cache import CLIP_KEYS, StepCache, cache_key
from service.pipeline.clip import ClipRules, check_clip_async, probe_clip
from service.pipeline.remote import provider_choice

log = logging.getLogger(__name__)
TICKET = "-ticket"  # suffix of the cache key a ticket is kept under


@dataclass(frozen=True)
class Clip:
    """A clip that passed the check, who made it, what was measured and what it cost."""

    data: bytes
    model: str
    provider: str | None
    provider_id: str | None
    status: str  # "done" (made now) or "cached" (made before, not paid again)
    seconds: float  # measured
    frames: int  # measured
    similarity: float
    asked_seconds: float | None = None
    audio_stripped: bool = False
    retries: int = 0
    cost_usd: float | None = None
    note: str = ""
    resumed: bool = False  # paid for by an earlier try, fetched now


def clip_cost(price_per_second: float | None, seconds: float | None) -> float | None:
    """Price per video-second × the clip's length: how providers bill clips."""
    if price_per_second is None or seconds is None:
        return None
    return round(price_per_second * seconds, 6)


@dataclass(frozen=True)
class _Fetched:
    data: bytes
    meta: dict[str, Any]
    status: str
    retries: int = 0
    note: str = ""
    resumed: bool = False


class ClipMaker:
    """Makes checked clips through an `InferenceClient`, remembering every paid clip."""

    def __init__(
        self, client: InferenceClient, cache: StepCache, rules: ClipRules | None = None
    ) -> None:
        self.client = client
        self.cache = cache
        self.rules = rules or ClipRules()

    def key(self, sent: ImagePayload, spec: ModelSpec, parameters: Mapping[str, Any]) -> str:
        """The cache key of one clip: everything the provider is sent, per provider too."""
        described = {
            "model": dict(spec.parameters),
            "providers": {p: dict(v) for p, v in spec.provider_parameters.items()},
            "call": {k: v for k, v in parameters.items() if k != "prompt"},
        }
        prompt = parameters.get("prompt")
        return cache_key(sent.data, spec.repo, provider_choice(spec), described, prompt)

    async def make(
        self,
        photo: Image.Image,
        spec: ModelSpec,
        parameters: Mapping[str, Any],
        *,
        price_per_second: float | None = None,
        rules: ClipRules | None = None,
    ) -> Clip:
        """A clip of `photo` by `spec` with the call's `parameters` (prompt included; merged
        over the model's own by the client), checked by `rules` (the model's `strip_audio`
        added)."""
        rules = rules or self.rules
        if spec.strip_audio and not rules.strip_audio:
            rules = replace(rules, strip_audio=True)
        price = spec.price_per_second if price_per_second is None else price_per_second
        if not self.client.has_token:
            raise ConfigError(
                f"model {spec.name} ({spec.repo}) makes clips through the router: set HF_TOKEN"
            )
        sent = await prepare_image_async(photo, spec.max_pixels)
        fetched = await self._fetch(spec, sent, parameters, self.key(sent, spec, parameters), rules)
        seconds = fetched.meta.get("seconds") or spec.duration
        checked = await check_clip_async(
            fetched.data, photo, seconds=seconds, frames=fetched.meta.get("frames"), rules=rules
        )
        # A resumed clip was paid by an earlier try whose record was replaced: count it now.
        cost = clip_cost(price, checked.probe.seconds) if fetched.status == "done" else 0.0
        log.info(
            "clip of %s via %s: %.2f s, %d frames, similarity %.2f (%s)",
            spec.repo,
            fetched.meta.get("provider"),
            checked.probe.seconds,
            checked.probe.frames,
            checked.similarity,
            fetched.status,
        )
        return Clip(
            checked.data,
            model=spec.repo,
            provider=fetched.meta.get("provider"),
            provider_id=fetched.meta.get("provider_id"),
            status=fetched.status,
            seconds=checked.probe.seconds,
            frames=checked.probe.frames,
            similarity=checked.similarity,
            asked_seconds=seconds,
            audio_stripped=checked.audio_stripped,
            retries=fetched.retries,
            cost_usd=cost,
            note=fetched.note,
            resumed=fetched.resumed,
        )

    async def _fetch(
        self,
        spec: ModelSpec,
        sent: ImagePayload,
        parameters: Mapping[str, Any],
        key: str,
        rules: ClipRules,
    ) -> _Fetched:
        """The clip from the cache, else from a provider (kept once it is a whole MP4)."""
        hit = await self.cache.get(key)
        if hit is not None:
            return _Fetched(hit.data, hit.meta, "cached", note="clip from the cache")
        ticket = await self.ticket(key)

        async def remember(new: ClipTicket | None) -> None:
            if new is None:
                await self.cache.delete(key + TICKET)
            else:
                await self.cache.put(key + TICKET, new.to_json(), {"ticket": True})

        try:
            result = await self.client.image_to_video(
                spec, sent, parameters, max_bytes=rules.max_bytes, ticket=ticket, remember=remember
            )
            probe_clip(result.data, rules)  # never keep garbage: an HTML page, a cut-off file
        except PermanentError:
            await remember(None)  # failed for good: a re-run is a new request
            raise
        meta = {
            "provider": result.provider,
            "provider_id": result.provider_id,
            "model": spec.repo,
            "seconds": result.seconds,
            "frames": result.frames,
        }
        await self.cache.put(key, result.data, meta)
        await remember(None)
        return _Fetched(result.data, meta, "done", result.retries, result.note, result.resumed)

    async def ticket(self, key: str) -> ClipTicket | None:
        """The paid request an earlier try left for this clip, if it is recent enough."""
        stored = await self.cache.get(key + TICKET)
        ticket = ClipTicket.from_json(stored.data) if stored is not None else None
        if ticket is not None and time.time() - ticket.created > CLIP_TICKET_TTL:
            await self.cache.delete(key + TICKET)
            return None
        return ticket


def build_clip_maker(
    settings: Any, client: InferenceClient, redis: Any = None, *, rules: ClipRules | None = None
) -> ClipMaker:
    """The worker's and CLI's ClipMaker: its own cache folder (or Redis keys), same budget."""
    cache = StepCache(
        settings.state_dir / "clip-cache",
        settings.cache_max_mb * 1024 * 1024,
        redis,
        keys=CLIP_KEYS,
    )
    return ClipMaker(client, cache, rules or ClipRules(max_bytes=CLIP_MAX_BYTES))
