"""A real Redis (DB 7 of the test server) for the wiring tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.redis_test import flushed, redis_url

REDIS_URL = redis_url(7)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """DB 7, empty at the start and end of the test."""
    async with flushed(7) as r:
        yield r
