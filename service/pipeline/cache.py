"""Never pay twice: results of remote steps, keyed by what was sent and how it was asked.

The key is sha256 over the exact bytes sent (after downscaling and re-encoding), the model
repo, the provider choice (`auto`, a provider, its list or an endpoint), the parameters and
the prompt: any change that could change the answer changes the key, nothing else does.
Entries live in a folder under `STATE_DIR/cache` (so `photo-restore restore` works with no
Redis) or in Redis when one is given (so every worker shares them). Both are bounded by
`CACHE_MAX_MB` and evict the least recently used entry first. Clips (megabytes each) live in
a cache of their own (`CLIP_KEYS`, its own folder), so one clip cannot evict a hundred image
results, nor image results a paid clip.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.constants import (
    CLIP_CACHE_BYTES,
    CLIP_CACHE_INDEX,
    CLIP_CACHE_KEY,
    STEP_CACHE_BYTES,
    STEP_CACHE_INDEX,
    STEP_CACHE_KEY,
)
from service.errors import from_redis

log = logging.getLogger(__name__)

# Running total of cached bytes, beside the index it belongs to.

_PUT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
  return 0
end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'meta', ARGV[2], 'size', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('INCRBY', KEYS[3], ARGV[3])
return 1
"""

_EVICT = """
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
local evicted = 0
while total > tonumber(ARGV[1]) do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then break end
  local key = ARGV[2] .. oldest[1]
  local size = tonumber(redis.call('HGET', key, 'size') or '0')
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], oldest[1])
  total = redis.call('DECRBY', KEYS[2], size)
  evicted = evicted + 1
end
if total < 0 then redis.call('SET', KEYS[2], 0) end
return evicted
"""


_DELETE = """
local size = tonumber(redis.call('HGET', KEYS[1], 'size') or '-1')
if size < 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if tonumber(redis.call('DECRBY', KEYS[3], size)) < 0 then redis.call('SET', KEYS[3], 0) end
return 1
"""


@dataclass(frozen=True)
class CacheKeys:
    """The Redis keys of one cache: entries (prefix), the LRU index, the running byte total."""

    entry: str
    index: str
    total: str


STEP_KEYS = CacheKeys(STEP_CACHE_KEY, STEP_CACHE_INDEX, STEP_CACHE_BYTES)
CLIP_KEYS = CacheKeys(CLIP_CACHE_KEY, CLIP_CACHE_INDEX, CLIP_CACHE_BYTES)


@dataclass(frozen=True)
class CachedStep:
    """A remembered result: the image bytes and who produced them."""

    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)


def cache_key(
    sent: bytes, repo: str, provider_choice: str, parameters: Mapping[str, Any], prompt: str | None
) -> str:
    """The digest naming one paid call."""
    h = hashlib.sha256()
    h.update(hashlib.sha256(sent).digest())
    described = {
        "repo": repo,
        "provider": provider_choice,
        "parameters": parameters,
        "prompt": prompt,
    }
    h.update(json.dumps(described, sort_keys=True, default=str, separators=(",", ":")).encode())
    return h.hexdigest()


class StepCache:
    """Bounded LRU store of step results, in a folder or in Redis."""

    def __init__(
        self, root: Path, max_bytes: int, redis: Any = None, *, keys: CacheKeys = STEP_KEYS
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.redis = redis
        self.keys = keys
        self._folder_total: int | None = None
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        """CACHE_MAX_MB=0 turns caching off."""
        return self.max_bytes > 0

    async def get(self, key: str) -> CachedStep | None:
        """The entry for `key`, marking it recently used; None when absent."""
        if not self.enabled:
            return None
        if self.redis is not None:
            data, meta = await self.redis.hmget(self.keys.entry + key, ["data", "meta"])
            if data is None:
                return None
            await self.redis.zadd(self.keys.index, {key: time.time()})
            return CachedStep(bytes(data), _load_meta(meta))
        return await asyncio.to_thread(self._folder_get, key)

    async def put(self, key: str, data: bytes, meta: Mapping[str, Any]) -> None:
        """Store a result; entries larger than the whole budget are not kept.

        Called right after a paid call: a Redis that went away meanwhile must not throw the
        answer away (the job would pay for it again), so the result is then simply not kept.
        """
        if not self.enabled or len(data) > self.max_bytes:
            return
        encoded = json.dumps(dict(meta), default=str)
        if self.redis is not None:
            try:
                await self._redis_put(self.redis, key, data, encoded)
            except Exception as exc:
                outage = from_redis(exc)
                if outage is None:
                    raise
                log.warning("step result not cached, Redis is away: %s", outage)
            return
        async with self._lock:
            await asyncio.to_thread(self._folder_put, key, data, encoded)

    async def _redis_put(self, redis: Any, key: str, data: bytes, encoded: str) -> None:
        await redis.eval(
            _PUT,
            3,
            self.keys.entry + key,
            self.keys.index,
            self.keys.total,
            data,
            encoded,
            len(data),
            time.time(),
            key,
        )
        await redis.eval(
            _EVICT, 2, self.keys.index, self.keys.total, self.max_bytes, self.keys.entry
        )

    async def delete(self, key: str) -> None:
        """Drop the entry for `key` (gone already is fine): a note that has served its turn."""
        if not self.enabled:
            return
        if self.redis is not None:
            await self.redis.eval(
                _DELETE, 3, self.keys.entry + key, self.keys.index, self.keys.total, key
            )
            return
        async with self._lock:
            await asyncio.to_thread(self._folder_delete, key)

    # -- folder backend (blocking; called in a thread) ---------------------------------------

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.bin", folder / f"{key}.json"

    def _folder_get(self, key: str) -> CachedStep | None:
        data_path, meta_path = self._paths(key)
        try:
            data = data_path.read_bytes()
            meta = _load_meta(meta_path.read_bytes())
        except FileNotFoundError:
            return None
        now = time.time()
        try:
            os.utime(data_path, (now, now))  # mtime is the LRU clock (atime may be noatime)
        except FileNotFoundError:
            return None
        return CachedStep(data, meta)

    def _folder_put(self, key: str, data: bytes, meta: str) -> None:
        data_path, meta_path = self._paths(key)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        existed = data_path.exists()
        for path, content in ((data_path, data), (meta_path, meta.encode())):
            tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
            tmp.write_bytes(content)
            os.replace(tmp, path)
        if self._folder_total is None:
            self._folder_total = sum(size for _, size, _ in self._folder_entries())
        elif not existed:
            self._folder_total += len(data)
        if self._folder_total > self.max_bytes:
            self._folder_evict()

    def _folder_delete(self, key: str) -> None:
        data_path, meta_path = self._paths(key)
        try:
            size = data_path.stat().st_size
        except FileNotFoundError:
            return
        data_path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        if self._folder_total is not None:
            self._folder_total = max(0, self._folder_total - size)

    def _folder_entries(self) -> list[tuple[float, int, Path]]:
        out = []
        for path in self.root.glob("*/*.bin"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out.append((st.st_mtime, st.st_size, path))
        return out

    def _folder_evict(self) -> None:
        entries = sorted(self._folder_entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
            total -= size
        self._folder_total = total


def _load_meta(raw: bytes | str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
