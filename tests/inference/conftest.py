"""Fixtures of the inference tests: a fake clock, a client on pytest-httpx, real Redis DB 3."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for `tests.fakerouter`

from inference_support import HUB, ROUTER, TOKEN, FakeClock

from service.inference import ImagePayload, InferenceClient, PollPolicy
from service.inference.images import prepare_image
from service.inference.policy import PROVIDER_RETRY
from tests.fakerouter import FakeRouter
from tests.redis_test import flushed


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def payload() -> ImagePayload:
    return prepare_image(Image.new("RGB", (40, 30), (120, 80, 40)), 1_048_576)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_client(http: httpx.AsyncClient, clock: FakeClock) -> Callable[..., InferenceClient]:
    """A client on the mocked router, with instant backoff and polling."""

    def make(**options: object) -> InferenceClient:
        defaults: dict[str, object] = {
            "router_url": ROUTER,
            "hub_url": HUB,
            "token": TOKEN,
            "sleep": clock.sleep,
            "clock": clock,
            "retry": dataclasses.replace(PROVIDER_RETRY, jitter=0.0),
            "poll": PollPolicy(interval=0.5),
        }
        defaults.update(options)
        return InferenceClient(http, **defaults)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def redis_db() -> AsyncIterator[aioredis.Redis]:
    """The real Redis, DB 3 (ours), flushed before and after."""
    async with flushed(3) as r:
        yield r


@pytest.fixture
def fake_router() -> Iterator[FakeRouter]:
    with FakeRouter(delay=0.0) as router:
        yield router
