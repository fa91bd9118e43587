"""The watcher's durable memory: what it saw of each file, so restarts and duplicate events
change nothing.

Keyed by file identity (WebDAV file id, else path); a value remembers the last seen version
and size and whether a job was made. A file is settled when the same version and size were
seen on two looks.
"""

from __future__ import annotations

import json
import time
from typing import Protocol

from redis.asyncio import Redis

from service.constants import LEDGER_KEY


class Ledger(Protocol):
    """What the watcher remembers between polls and restarts."""

    async def observe(self, key: str, version: str, size: int) -> tuple[bool, float]:
        """Record a look; returns (same as the previous look, when this version was first seen)."""
        ...

    async def mark_taken(self, key: str, version: str) -> None:
        """A job exists (or the result is already there) for this version."""
        ...

    async def is_taken(self, key: str, version: str) -> bool:
        """Whether this version was already handled."""
        ...


class RedisLedger:
    """Ledger in a Redis hash; survives restarts of every process."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def _get(self, key: str) -> dict[str, object] | None:
        raw = await self.redis.hget(LEDGER_KEY, key)
        return json.loads(raw) if raw else None

    async def observe(self, key: str, version: str, size: int) -> tuple[bool, float]:
        """Compare with the previous look and store this one."""
        old = await self._get(key)
        now = time.time()
        if old and old.get("v") == version and old.get("s") == size:
            return True, float(old.get("t", now))  # type: ignore[arg-type]
        taken = old.get("taken") if old and old.get("v") == version else None
        await self.redis.hset(
            LEDGER_KEY, key, json.dumps({"v": version, "s": size, "t": now, "taken": taken})
        )
        return False, now

    async def mark_taken(self, key: str, version: str) -> None:
        """Remember the version as handled."""
        old = await self._get(key) or {"v": version, "s": -1, "t": time.time()}
        old.update(v=version, taken=version)
        await self.redis.hset(LEDGER_KEY, key, json.dumps(old))

    async def is_taken(self, key: str, version: str) -> bool:
        """Whether this version was handled."""
        old = await self._get(key)
        return bool(old and old.get("taken") == version)


class MemoryLedger:
    """In-process ledger, for `photo-restore restore` style one-offs and tests."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, object]] = {}

    async def observe(self, key: str, version: str, size: int) -> tuple[bool, float]:
        """Compare with the previous look and store this one."""
        old = self.files.get(key)
        now = time.time()
        if old and old["v"] == version and old["s"] == size:
            return True, float(old["t"])  # type: ignore[arg-type]
        taken = old.get("taken") if old and old["v"] == version else None
        self.files[key] = {"v": version, "s": size, "t": now, "taken": taken}
        return False, now

    async def mark_taken(self, key: str, version: str) -> None:
        """Remember the version as handled."""
        entry = self.files.setdefault(key, {"v": version, "s": -1, "t": time.time()})
        entry.update(v=version, taken=version)

    async def is_taken(self, key: str, version: str) -> bool:
        """Whether this version was handled."""
        entry = self.files.get(key)
        return bool(entry and entry.get("taken") == version)
