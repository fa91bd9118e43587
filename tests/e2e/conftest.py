"""Shared pieces of the end-to-end tests: a real Redis (DB 6) and one watch-then-work round."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from service.runtime.services import Services
from service.runtime.worker import make_worker
from service.watch.poller import Watcher
from tests.redis_test import flushed, redis_url

REDIS = redis_url(6)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with flushed(6) as r:
        yield r


def watcher_for(services: Services) -> Watcher:
    """The watcher a worker would run, over these services."""
    return Watcher(
        services.storage,
        services.settings,
        services.catalog,
        services.queue,
        services.ledger,
        default_chain=services.default_chain,
    )


async def poll_and_work(services: Services, polls: int = 2) -> None:
    """Poll (twice: files settle on the second look), then run a burst worker to empty the queue."""
    watcher = watcher_for(services)
    for _ in range(polls):
        await watcher.poll_once()
    worker = make_worker(
        services.settings, REDIS, services=services, watch=False, burst=True, handle_signals=False
    )
    try:
        await worker.main()
    finally:
        await worker.close()
