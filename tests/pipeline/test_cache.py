"""The step cache: shared by workers through Redis (real, DB 3), or a folder for the CLI;
bounded, least recently used out first, keyed by everything that changes the answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.pipeline.cache import StepCache, cache_key
from tests.redis_test import flushed

REPO = "black-forest-labs/FLUX.2-dev"


@pytest.fixture
async def redis_db() -> AsyncIterator[aioredis.Redis]:
    """DB 3 of the test Redis, flushed before and after."""
    async with flushed(3) as r:
        yield r


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
    assert hit is not None
    assert hit.data == b"a" * 100
    assert hit.meta == {"provider": "fal-ai"}
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
    assert hit is not None
    assert hit.meta["provider"] == "replicate"


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
    assert await cache.get("k") is None
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("backend", ["folder", "redis"])
async def test_a_deleted_entry_is_gone_and_frees_its_bytes(
    backend: str, redis_db: aioredis.Redis, tmp_path: Path
) -> None:
    cache = StepCache(tmp_path, max_bytes=250, redis=redis_db if backend == "redis" else None)
    await cache.put("a", b"a" * 100, {})
    await cache.put("b", b"b" * 100, {})
    await cache.delete("a")
    await cache.delete("a")  # gone already is fine
    await cache.delete("never")
    assert await cache.get("a") is None
    await cache.put("c", b"c" * 100, {})  # 200 of 250 bytes: nothing has to go
    assert await cache.get("b") is not None
    assert await cache.get("c") is not None
