"""Small JPEG previews of a job's source, intermediate steps and result, and the files page's
thumbnails: bounded by count and bytes, and never in the persisted Redis.

The dashboard shows them instantly; full-size images are read from the storage on demand, and
source and result fall back to a thumbnail made from the stored file. They may vanish: history
outlives them, photos never depend on them. So they are kept where losing them costs nothing:

- `MemoryPreviews`: in the process, for `photo-restore up` and its embedded Redis, whose
  history is saved to disk (`DATA_DIR/.photo-restore/history.rdb`). About 3 MB a job used to go
  there for 30 days, filling the disk and the snapshot alike.
- `RedisPreviews`: in a shared Redis (REDIS_URL), so any web replica can serve what a worker
  made; an index (score = when stored) and a byte count keep the same bounds, the oldest
  entries going first, and each entry still expires on its own.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import OrderedDict
from typing import Protocol

from PIL import Image
from redis.asyncio import Redis

from service.constants import (
    PREVIEW_BYTES_KEY,
    PREVIEW_INDEX_KEY,
    PREVIEW_KEY,
    PREVIEW_MAX_COUNT,
    PREVIEW_SIZES_KEY,
    PREVIEW_TTL,
)
from service.pipeline.aligned import preview_size

PREVIEW_EDGE = 1280
MASK_SLOT = "mask"  # the damage detector's mask, a PNG the size of the aligned "before"

# Store one entry, then drop the oldest while over either bound. An entry that expired on its
# own still counts until trimmed (its size is in the sizes hash), so the byte total never
# drifts. KEYS: index, bytes total, sizes; ARGV: prefix, name, data, now, max count, max
# bytes, ttl seconds.
_PUT = """
local key = ARGV[1] .. ARGV[2]
local old = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
redis.call('SET', key, ARGV[3], 'EX', ARGV[7])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], string.len(ARGV[3]))
local total = redis.call('INCRBY', KEYS[2], string.len(ARGV[3]) - old)
local count = redis.call('ZCARD', KEYS[1])
while count > tonumber(ARGV[5]) or total > tonumber(ARGV[6]) do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then break end
  local size = tonumber(redis.call('HGET', KEYS[3], oldest[1]) or '0')
  total = redis.call('DECRBY', KEYS[2], size)
  redis.call('DEL', ARGV[1] .. oldest[1])
  redis.call('ZREM', KEYS[1], oldest[1])
  redis.call('HDEL', KEYS[3], oldest[1])
  count = count - 1
end
if total < 0 then redis.call('SET', KEYS[2], 0) end
return count
"""


def make_preview(image: Image.Image, edge: int = PREVIEW_EDGE) -> bytes:
    """A JPEG no larger than `edge` pixels on its long side (blocking: run in a thread)."""
    im = (
        image.copy()
        if max(image.size) <= edge
        # The same size as the aligned "before" of the result (one formula for both layers)
        else image.resize(
            preview_size(image.size, edge), Image.Resampling.LANCZOS, reducing_gap=3.0
        )
    )
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def make_mask_preview(mask: Image.Image) -> bytes:
    """A damage mask as a greyscale PNG (255 = damaged): exact, and a mask of few shapes is
    a few kilobytes where a JPEG would blur its edges (blocking: run in a thread)."""
    buf = io.BytesIO()
    mask.convert("L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


class PreviewStore(Protocol):
    """Where previews and thumbnails live: bounded, and allowed to forget."""

    async def put(self, name: str, data: bytes) -> None:
        """Keep `data` under `name` (the oldest entries may go to make room)."""
        ...

    async def get(self, name: str) -> bytes | None:
        """The entry, or None when it was never stored or has gone."""
        ...


class MemoryPreviews:
    """A least-recently-used map in this process, bounded by count and bytes."""

    def __init__(self, max_bytes: int, max_count: int = PREVIEW_MAX_COUNT) -> None:
        self.max_bytes = max_bytes
        self.max_count = max_count
        self.bytes = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, name: str, data: bytes) -> None:
        """Store, then drop the least recently used entries while over a bound."""
        if len(data) > self.max_bytes:
            return
        old = self._items.pop(name, None)
        self.bytes += len(data) - (len(old) if old is not None else 0)
        self._items[name] = data
        while self._items and (len(self._items) > self.max_count or self.bytes > self.max_bytes):
            _, gone = self._items.popitem(last=False)
            self.bytes -= len(gone)

    async def get(self, name: str) -> bytes | None:
        """The entry (now the most recently used), or None."""
        data = self._items.get(name)
        if data is not None:
            self._items.move_to_end(name)
        return data


class RedisPreviews:
    """Previews in a shared Redis, bounded by count and bytes (oldest first), each with a TTL."""

    def __init__(
        self,
        redis: Redis,
        max_bytes: int,
        max_count: int = PREVIEW_MAX_COUNT,
        ttl: int = PREVIEW_TTL,
    ) -> None:
        self.redis = redis
        self.max_bytes = max_bytes
        self.max_count = max_count
        self.ttl = ttl

    async def put(self, name: str, data: bytes) -> None:
        """Store and trim in one script, so concurrent workers never overshoot the bounds."""
        if len(data) > self.max_bytes:
            return
        await self.redis.eval(
            _PUT,
            3,
            PREVIEW_INDEX_KEY,
            PREVIEW_BYTES_KEY,
            PREVIEW_SIZES_KEY,
            PREVIEW_KEY,
            name,
            data,  # type: ignore[arg-type]  # redis-py sends bytes as they are
            str(time.time()),
            str(self.max_count),
            str(self.max_bytes),
            str(self.ttl),
        )

    async def get(self, name: str) -> bytes | None:
        """The entry, or None (expired, trimmed or never stored)."""
        data = await self.redis.get(PREVIEW_KEY + name)
        return bytes(data) if data is not None else None


async def save_preview(store: PreviewStore, job_id: str, slot: str, data: bytes) -> None:
    """Store a job's preview; `slot` is 'source', 'result', 'aligned', 'mask' or a step index."""
    await store.put(f"{job_id}:{slot}", data)


async def load_preview(store: PreviewStore, job_id: str, slot: str) -> bytes | None:
    """A stored preview of a job, or None."""
    return await store.get(f"{job_id}:{slot}")


async def preview_of(image: Image.Image) -> bytes:
    """`make_preview` in a thread."""
    return await asyncio.to_thread(make_preview, image)
