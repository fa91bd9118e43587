"""`download_clip` on an injected transport: broken-off bodies, data URLs, hostile error bodies."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from inference_support import FakeClock

from service.errors import InvalidClip, ProviderDown, ProviderRejected
from service.inference import PollPolicy
from service.inference.transport import ERROR_BODY_LIMIT, Call
from service.inference.video import download_clip
from service.retry import RetryPolicy

CLIP = bytes(range(256)) * 400  # 100 KiB stand-in: downloads do not judge what they carry
URL = "https://cdn.example/clip.mp4"


class Body(httpx.AsyncByteStream):
    """A body that breaks off after its first half `breaks` times, or streams `filler` bytes."""

    def __init__(self, data: bytes, *, breaks: list[int] | None = None, filler: int = 0) -> None:
        self.data = data
        self.breaks = breaks if breaks is not None else [0]
        self.filler = filler
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        half = len(self.data) // 2
        self.sent += half
        yield self.data[:half]
        if self.breaks[0] > 0:
            self.breaks[0] -= 1
            raise httpx.RemoteProtocolError("peer closed connection without a complete body")
        self.sent += len(self.data) - half
        yield self.data[half:]
        while self.sent < self.filler:
            self.sent += 16 * 1024
            yield b"x" * 16 * 1024


def call_over(handler: httpx.MockTransport, clock: FakeClock) -> tuple[httpx.AsyncClient, Call]:
    http = httpx.AsyncClient(transport=handler)
    retry = RetryPolicy(attempts=3, base=1.0, jitter=0.0)
    call = Call(
        http,
        "fal-ai",
        deadline=clock() + 60,
        retry=retry,
        poll=PollPolicy(),
        sleep=clock.sleep,
        clock=clock,
    )
    return http, call


async def test_a_body_that_breaks_off_once_is_fetched_again(clock: FakeClock) -> None:
    breaks = [1]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Body(CLIP, breaks=breaks))

    http, call = call_over(httpx.MockTransport(handler), clock)
    async with http:
        assert await download_clip(call, URL, max_bytes=len(CLIP)) == CLIP
    assert call.retries == 1


async def test_a_body_that_always_breaks_off_is_a_clear_error(clock: FakeClock) -> None:
    breaks = [10]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Body(CLIP, breaks=breaks))

    http, call = call_over(httpx.MockTransport(handler), clock)
    async with http:
        with pytest.raises(ProviderDown, match=r"broke off \(RemoteProtocolError\) 3 time"):
            await download_clip(call, URL, max_bytes=len(CLIP))


async def test_a_clip_in_a_data_url_is_decoded_and_capped_before_decoding(
    clock: FakeClock,
) -> None:
    http, call = call_over(httpx.MockTransport(lambda r: httpx.Response(500)), clock)
    url = "data:video/mp4;base64," + base64.b64encode(CLIP).decode()
    async with http:
        assert await download_clip(call, url, max_bytes=len(CLIP)) == CLIP
        with pytest.raises(InvalidClip) as caught:
            await download_clip(call, url, max_bytes=len(CLIP) // 2)
    assert caught.value.reason == "too-large"


async def test_a_missing_clip_is_the_cdns_refusal(clock: FakeClock) -> None:
    http, call = call_over(
        httpx.MockTransport(lambda r: httpx.Response(404, json={"error": "gone"})), clock
    )
    async with http:
        with pytest.raises(ProviderRejected, match="HTTP 404"):
            await download_clip(call, URL)


async def test_an_endless_error_body_is_read_only_for_its_message(clock: FakeClock) -> None:
    bodies: list[Body] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(Body(b"<html>overloaded</html>", filler=50 * 2**20))
        return httpx.Response(503, stream=bodies[-1])

    http, call = call_over(httpx.MockTransport(handler), clock)
    async with http:
        with pytest.raises(ProviderDown, match="HTTP 503"):
            await download_clip(call, URL)
    assert len(bodies) == 3  # retried as any 5xx
    assert all(b.sent <= ERROR_BODY_LIMIT + 16 * 1024 for b in bodies)
