"""Previews and thumbnails are bounded by count and bytes, oldest first, in the process (with
the embedded, persisted Redis) or in a shared Redis; losing them costs nothing."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from service.config.settings import Settings
from service.constants import PREVIEW_BYTES_KEY, PREVIEW_INDEX_KEY
from service.jobs.previews import MemoryPreviews, RedisPreviews
from service.runtime.services import Services
from tests.jobs.conftest import TEST_REDIS


async def test_memory_previews_keep_to_their_count() -> None:
    store = MemoryPreviews(max_bytes=10_000, max_count=3)
    for i in range(5):
        await store.put(f"job{i}:source", b"x" * 10)
    assert len(store) == 3
    assert await store.get("job0:source") is None
    assert await store.get("job4:source") == b"x" * 10


async def test_memory_previews_keep_to_their_bytes_and_drop_the_least_recently_used() -> None:
    store = MemoryPreviews(max_bytes=300, max_count=100)
    for i in range(3):
        await store.put(f"p{i}", bytes(100))
    await store.get("p0")  # used again: now the newest
    await store.put("p3", bytes(100))
    assert store.bytes <= 300
    assert await store.get("p1") is None
    assert await store.get("p0") is not None
    await store.put("huge", bytes(301))  # larger than the whole budget: not kept
    assert await store.get("huge") is None


async def test_redis_previews_keep_to_count_and_bytes_oldest_first(redis: Redis) -> None:
    store = RedisPreviews(redis, max_bytes=250, max_count=4)
    for i in range(6):
        await store.put(f"job{i}:result", bytes([i]) * 100)
    assert await redis.zcard(PREVIEW_INDEX_KEY) == 2  # 250 bytes hold two of them
    assert int(await redis.get(PREVIEW_BYTES_KEY)) == 200
    assert await store.get("job3:result") is None
    assert await store.get("job5:result") == bytes([5]) * 100
    await store.put("job5:result", b"short")  # replacing keeps the count exact
    assert int(await redis.get(PREVIEW_BYTES_KEY)) == 105


async def test_redis_previews_count_an_expired_entry_until_it_is_trimmed(redis: Redis) -> None:
    store = RedisPreviews(redis, max_bytes=1000, max_count=2)
    await store.put("a", bytes(100))
    await redis.delete("photo-restore:preview:a")  # expired on its own
    await store.put("b", bytes(100))
    await store.put("c", bytes(100))
    assert await redis.zcard(PREVIEW_INDEX_KEY) == 2
    assert int(await redis.get(PREVIEW_BYTES_KEY)) == 200


async def test_previews_stay_out_of_the_embedded_persisted_redis(
    tmp_path: Path, redis: Redis
) -> None:
    embedded = await Services.open(Settings(data_dir=tmp_path / "a"), TEST_REDIS)
    shared = await Services.open(
        Settings(data_dir=tmp_path / "b", redis_url=TEST_REDIS), TEST_REDIS
    )
    try:
        assert isinstance(embedded.previews, MemoryPreviews)  # REDIS_URL unset: embedded
        assert isinstance(shared.previews, RedisPreviews)
    finally:
        await embedded.aclose()
        await shared.aclose()
