"""What workers share through Redis (real, DB 3) and the folder cache of the CLI."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from service.constants import MAPPING_CACHE_KEY, PROVIDER_SLOTS_KEY
from service.errors import ProviderUnavailable
from service.inference import InferenceClient
from service.inference.slots import ProviderSlots
from service.pipeline.cache import StepCache, cache_key
from tests.fakerouter import FakeRouter

REPO = "black-forest-labs/FLUX.2-dev"


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


async def test_mapping_is_fetched_once_for_all_workers_and_expires(
    redis_db: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    with FakeRouter() as router:

        def client() -> InferenceClient:
            return InferenceClient(
                http,
                router_url=router.url,
                hub_url=router.url,
                token="hf_x",
                redis=redis_db,
                mapping_ttl=60,
            )

        a, b = client(), client()
        routes_a = await a.mapping.routes(REPO, "image-to-image", ("fal-ai", "replicate"))
        routes_b = await b.mapping.routes(REPO, "image-to-image", ("fal-ai", "replicate"))
        assert router.count("hub") == 1
        assert [r.provider for r in routes_a] == [r.provider for r in routes_b]
        assert [r.provider for r in routes_a] == ["fal-ai", "replicate"]  # the Hub's order
        assert 0 < await redis_db.ttl(MAPPING_CACHE_KEY + REPO) <= 60


async def test_the_step_cache_is_shared_through_redis_and_evicts_lru(
    redis_db: aioredis.Redis, tmp_path: Path
) -> None:
    cache = StepCache(tmp_path, max_bytes=250, redis=redis_db)
    for name in ("a", "b"):
        await cache.put(name, name.encode() * 100, {"provider": "fal-ai"})
    assert (await StepCache(tmp_path, 250, redis_db).get("a")) is not None  # a is now recent
    await cache.put("c", b"c" * 100, {})
    assert await cache.get("b") is None  # least recently used went first
    hit = await cache.get("a")
    assert hit is not None and hit.data == b"a" * 100 and hit.meta == {"provider": "fal-ai"}
    assert await cache.get("c") is not None


async def test_the_folder_cache_evicts_lru_and_survives_a_restart(tmp_path: Path) -> None:
    cache = StepCache(tmp_path, max_bytes=250)
    await cache.put("a1", b"a" * 100, {"provider": "replicate"})
    await asyncio.sleep(0.01)
    await cache.put("b1", b"b" * 100, {})
    await asyncio.sleep(0.01)
    assert await cache.get("a1") is not None
    await asyncio.sleep(0.01)
    await StepCache(tmp_path, max_bytes=250).put("c1", b"c" * 100, {})
    assert await cache.get("b1") is None
    hit = await StepCache(tmp_path, max_bytes=250).get("a1")
    assert hit is not None and hit.meta["provider"] == "replicate"


def test_the_cache_key_changes_with_anything_that_changes_the_answer() -> None:
    base = cache_key(b"img", REPO, "auto", {"guidance_scale": 2.5}, "fix it")
    assert base == cache_key(b"img", REPO, "auto", {"guidance_scale": 2.5}, "fix it")
    assert base != cache_key(b"img2", REPO, "auto", {"guidance_scale": 2.5}, "fix it")
    assert base != cache_key(b"img", "other/model", "auto", {"guidance_scale": 2.5}, "fix it")
    assert base != cache_key(b"img", REPO, "fal-ai", {"guidance_scale": 2.5}, "fix it")
    assert base != cache_key(b"img", REPO, "auto", {"guidance_scale": 3.0}, "fix it")
    assert base != cache_key(b"img", REPO, "auto", {"guidance_scale": 2.5}, "fix more")


async def test_a_zero_budget_disables_the_cache(tmp_path: Path) -> None:
    cache = StepCache(tmp_path, max_bytes=0)
    await cache.put("k", b"x", {})
    assert await cache.get("k") is None and not list(tmp_path.iterdir())
