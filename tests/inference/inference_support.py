"""Constants and helpers shared by the inference tests (importable, unlike conftest)."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from tests.redis_test import redis_url

ROUTER = "https://router.huggingface.co"
HUB = "https://huggingface.co"
TOKEN = "hf_testtoken0123456789"
REDIS_URL = redis_url(3)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps: backoff costs no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def png_bytes(
    size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (90, 60, 30)
) -> bytes:
    """A small PNG, what a provider's CDN would serve."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()
