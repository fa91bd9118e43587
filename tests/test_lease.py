"""Leases that name their owner: released on shutdown, taken over at once from a process that
is gone, never from one that lives, and after a lapsed heartbeat from one elsewhere."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from service.lease import Lease, Owner, process_start
from tests.redis_test import flushed

KEY = "photo-restore:test-lease"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with flushed(8) as r:
        yield r


def dead_pid() -> int:
    """The pid of a process that has just ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def stored(owner: Owner) -> str:
    return owner.encode()


async def test_a_lease_names_its_owner(redis: Redis) -> None:
    lease = Lease(redis, KEY, ttl=30)
    assert await lease.acquire()
    holder = await lease.holder()
    assert holder == lease.owner
    assert holder is not None
    assert holder.pid == Owner.me().pid
    assert holder.here()


async def test_a_live_holder_keeps_its_lease(redis: Redis) -> None:
    first, second = Lease(redis, KEY, ttl=30), Lease(redis, KEY, ttl=30)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewing


async def test_a_lease_of_a_process_that_is_gone_is_taken_over_at_once(redis: Redis) -> None:
    gone = dataclasses.replace(Owner.me("old"), pid=dead_pid())
    await redis.set(KEY, stored(gone), px=30_000)
    lease = Lease(redis, KEY, ttl=30)
    assert await lease.acquire()
    assert lease.took_over == gone
    assert await lease.holder() == lease.owner


async def test_a_reused_pid_is_not_mistaken_for_the_old_owner(redis: Redis) -> None:
    # A restarted container is pid 1 again; its start time tells the two apart.
    earlier_life = dataclasses.replace(Owner.me("old"), start="another-boot:12345")
    await redis.set(KEY, stored(earlier_life), px=30_000)
    assert earlier_life.is_gone()
    assert await Lease(redis, KEY, ttl=30).acquire()


async def test_an_owner_on_another_host_is_waited_for_until_its_heartbeat_lapses(
    redis: Redis,
) -> None:
    elsewhere = dataclasses.replace(Owner.me("w"), host="another-pod", pid=1)
    await redis.set(KEY, stored(elsewhere), px=30_000)
    lease = Lease(redis, KEY, ttl=30)
    assert not await lease.acquire()  # cannot tell whether it lives: its heartbeat will
    await redis.delete(KEY)  # the key expired: no heartbeat for a whole ttl
    assert await lease.acquire()


async def test_release_frees_the_lease_and_only_its_own(redis: Redis) -> None:
    first, second = Lease(redis, KEY, ttl=30), Lease(redis, KEY, ttl=30)
    assert await first.acquire()
    assert not await second.release()  # not the holder: nothing changes
    assert await first.holder() == first.owner
    assert await first.release()
    assert await redis.get(KEY) is None
    assert await second.acquire()


def test_the_start_of_a_process_is_known_while_it_lives() -> None:
    assert process_start(Owner.me().pid) == Owner.me().start
    assert process_start(dead_pid()) is None


def test_a_foreign_value_is_no_owner() -> None:
    assert Owner.decode(b"3f2a9c") is None
    assert Owner.decode(None) is None
