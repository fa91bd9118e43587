"""Real Redis (DB 1 of the machine's server, or REDIS_TEST_URL) for the jobs tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from service.config.settings import Settings
from service.runtime.services import Services
from tests.redis_test import flushed, redis_url

TEST_REDIS = redis_url(1)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with flushed(1) as r:
        yield r


@pytest.fixture
async def services(tmp_path: Path, redis: Redis) -> AsyncIterator[Services]:
    settings = Settings(data_dir=tmp_path / "data", retry_base_seconds=0.1)
    svc = await Services.open(settings, TEST_REDIS)
    yield svc
    await svc.aclose()
