"""The watch loop: one trigger is enough for a restore (the triggered look schedules its own
settle look), the lease is held and released, and an outage is said once, not per second."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from service.constants import WATCH_LOCK_KEY
from service.lease import Lease
from service.storage.local import LocalStorage
from service.watch.loop import run_watch_loop
from tests.redis_test import flushed
from tests.watch.test_poller import make, put


class ArrivalUnknown(LocalStorage):
    """A local folder that, like WebDAV, cannot tell when a file arrived: two looks needed."""

    mtime_is_arrival = False


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with flushed(8) as r:
        yield r


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Wait for a condition the loop brings about (generous guard; nothing is timed)."""
    for _ in range(600):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def one_shot(folders: list[str]) -> Callable[[], Awaitable[list[str]]]:
    async def pop() -> list[str]:
        out = list(folders)
        folders.clear()
        return out

    return pop


async def test_one_trigger_is_enough_whatever_the_poll_interval(tmp_path: Path) -> None:
    w, q, _ = make(tmp_path, storage=ArrivalUnknown(tmp_path))
    (tmp_path / "F/to-restore").mkdir(parents=True)
    pending: list[str] = []
    stop = asyncio.Event()
    loop = asyncio.create_task(
        run_watch_loop(w, interval=3600, settle=0.2, triggers=one_shot(pending), stop=stop)
    )
    await until(lambda: w._polls == 1, "the first regular poll")
    put(tmp_path, "F/to-restore/scan.jpg", age=0)
    pending.append("/F/to-restore")  # one webhook, once
    await until(lambda: bool(q.submitted), "the scan queued")
    stop.set()
    await loop
    assert [r.source for r in q.submitted] == ["/F/to-restore/scan.jpg"]
    assert w._polls == 1  # no regular poll was needed: the trigger's own settle look took it


async def test_the_lease_is_held_while_watching_and_released_on_stop(
    tmp_path: Path, redis: Redis
) -> None:
    w, _, _ = make(tmp_path)
    lease = Lease(redis, WATCH_LOCK_KEY, ttl=30)
    stop = asyncio.Event()
    loop = asyncio.create_task(run_watch_loop(w, interval=3600, settle=1, lease=lease, stop=stop))
    await until(lambda: w._polls == 1, "the first poll")
    assert await lease.holder() == lease.owner
    stop.set()
    await loop
    assert await redis.get(WATCH_LOCK_KEY) is None  # the next process need not wait


class CountingLease(Lease):
    asked = 0

    async def acquire(self) -> bool:
        self.asked += 1
        return await super().acquire()


async def test_a_standby_polls_nothing_and_leaves_triggers_to_the_holder(
    tmp_path: Path, redis: Redis
) -> None:
    holder = Lease(redis, WATCH_LOCK_KEY, ttl=30)
    assert await holder.acquire()
    w, _, _ = make(tmp_path)
    pending = ["/F/to-restore"]
    stop = asyncio.Event()
    standby = CountingLease(redis, WATCH_LOCK_KEY, ttl=30)
    loop = asyncio.create_task(
        run_watch_loop(
            w, interval=0.05, settle=0.05, triggers=one_shot(pending), lease=standby, stop=stop
        )
    )
    await until(lambda: standby.asked >= 2, "the standby asking twice")
    stop.set()
    await loop
    assert w._polls == 0
    assert pending == ["/F/to-restore"]  # left for the holder
    assert await holder.holder() == holder.owner  # the standby did not release it


async def test_an_outage_is_said_once_and_its_end_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w, _, _ = make(tmp_path)
    calls = {"n": 0}

    async def flaky() -> list[str]:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise redis_errors.ConnectionError("Error 111 connecting to unix socket")
        return []

    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="service"):
        loop = asyncio.create_task(
            run_watch_loop(w, interval=3600, settle=1, triggers=flaky, stop=stop)
        )
        await until(lambda: calls["n"] > 3, "the outage to pass")
        stop.set()
        await loop
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if "Redis unavailable" in m]) == 1, lines
    assert len([m for m in lines if "Redis back after" in m]) == 1, lines
    assert not [r for r in caplog.records if r.exc_info], "no traceback for an outage"
