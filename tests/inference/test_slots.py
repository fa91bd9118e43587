"""Calls in flight per provider, capped across every worker through Redis (real, DB 3)."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from service.constants import PROVIDER_SLOTS_KEY
from service.errors import ProviderUnavailable
from service.inference.slots import ProviderSlots


async def test_slots_cap_calls_in_flight_across_workers(redis_db: aioredis.Redis) -> None:
    worker_a, worker_b = ProviderSlots(redis_db), ProviderSlots(redis_db)
    async with (
        worker_a.lease("fal-ai", 2, ttl=30, wait=1),
        worker_b.lease("fal-ai", 2, ttl=30, wait=1),
    ):
        assert await worker_a.in_flight("fal-ai") == 2
        with pytest.raises(ProviderUnavailable, match="slots busy"):
            async with worker_b.lease("fal-ai", 2, ttl=30, wait=0.2):
                pass
        async with worker_b.lease("replicate", 2, ttl=30, wait=0.2):  # other providers: free
            pass
    assert await worker_a.in_flight("fal-ai") == 0


async def test_a_crashed_workers_lease_expires(redis_db: aioredis.Redis) -> None:
    # A worker died holding both slots: its leases are past their expiry time.
    await redis_db.zadd(
        PROVIDER_SLOTS_KEY + "fal-ai", {"dead-1": time.time() - 1, "dead-2": time.time() - 1}
    )
    async with ProviderSlots(redis_db).lease("fal-ai", 2, ttl=30, wait=0.2):
        assert await ProviderSlots(redis_db).in_flight("fal-ai") == 1


async def test_a_waiting_call_gets_the_slot_when_it_frees(redis_db: aioredis.Redis) -> None:
    slots = ProviderSlots(redis_db, wait_step=0.01)
    order: list[str] = []

    async def hold() -> None:
        async with slots.lease("wavespeed", 1, ttl=30, wait=1):
            order.append("first")
            await asyncio.sleep(0.1)

    async def wait() -> None:
        await asyncio.sleep(0.02)
        async with slots.lease("wavespeed", 1, ttl=30, wait=2):
            order.append("second")

    await asyncio.gather(hold(), wait())
    assert order == ["first", "second"]
