"""The test Redis: one base address for every test folder.

CI uses the machine's Redis on 127.0.0.1:6379; a developer running two checkouts at once points
each at its own server with `TEST_REDIS=redis://127.0.0.1:6390` so their flushes never meet.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

BASE = os.environ.get("TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")


def redis_url(db: int) -> str:
    """The URL of database `db` on the test Redis."""
    return f"{BASE}/{db}"


@asynccontextmanager
async def flushed(db: int) -> AsyncIterator[Redis]:
    """A client of database `db`, empty when the test starts and again when it ends."""
    client = Redis.from_url(redis_url(db))
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()
