"""A cap on calls in flight per provider, shared by every worker through Redis.

Each call takes a lease: a member of the sorted set `PROVIDER_SLOTS_KEY + provider` scored by
its expiry time. Taking one is a Lua script (drop expired leases, count, add), so concurrent
workers cannot overshoot; a worker that crashes mid-call leaks nothing, its lease simply
expires. Without Redis (the CLI, tests) an in-process semaphore per provider does the same.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from service.constants import PROVIDER_SLOTS_KEY
from service.errors import ProviderUnavailable, from_redis

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class ProviderSlots:
    """Leases of in-flight calls per provider."""

    def __init__(
        self,
        redis: Any = None,
        *,
        wait_step: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.redis = redis
        self.wait_step = wait_step
        self.sleep = sleep
        self._local: dict[str, asyncio.Semaphore] = {}
        self._held: dict[str, int] = {}

    @asynccontextmanager
    async def lease(
        self, provider: str, limit: int, *, ttl: float, wait: float
    ) -> AsyncIterator[None]:
        """Hold one of `limit` slots of `provider` for at most `ttl` s, waiting up to `wait` s."""
        if self.redis is None:
            async with self._local_lease(provider, limit, wait):
                yield
            return
        key = PROVIDER_SLOTS_KEY + provider
        token = uuid.uuid4().hex
        await self._acquire(key, token, limit, ttl, wait, provider)
        try:
            yield
        finally:
            await self._release(key, token)

    async def _release(self, key: str, token: str) -> None:
        # After a paid call: a Redis that went away meanwhile must not lose its answer; the
        # lease then simply expires.
        try:
            await self.redis.zrem(key, token)
        except Exception as exc:
            if from_redis(exc) is None:
                raise

    async def in_flight(self, provider: str) -> int:
        """Live leases now (for metrics and tests)."""
        if self.redis is None:
            return self._held.get(provider, 0)
        key = PROVIDER_SLOTS_KEY + provider
        return int(await self.redis.zcount(key, time.time(), "+inf"))

    async def _acquire(
        self, key: str, token: str, limit: int, ttl: float, wait: float, provider: str
    ) -> None:
        give_up = time.monotonic() + wait
        step = self.wait_step
        while True:
            now = time.time()
            got = await self.redis.eval(
                _ACQUIRE, 1, key, now, limit, now + ttl, token, int((ttl + 60) * 1000)
            )
            if int(got) == 1:
                return
            if time.monotonic() + step > give_up:
                raise ProviderUnavailable(
                    f"{provider}: all {limit} slots busy for {wait:.0f} s; "
                    "the job will be retried later",
                    retry_after=step * 20,
                )
            await self.sleep(step)
            step = min(step * 1.5, 1.0)

    @asynccontextmanager
    async def _local_lease(self, provider: str, limit: int, wait: float) -> AsyncIterator[None]:
        # The first limit seen for a provider is kept: one process, one cap per provider.
        sem = self._local.setdefault(provider, asyncio.Semaphore(limit))
        try:
            await asyncio.wait_for(sem.acquire(), timeout=max(wait, 0.001))
        except TimeoutError:
            raise ProviderUnavailable(
                f"{provider}: all {limit} slots busy for {wait:.0f} s; "
                "the job will be retried later"
            ) from None
        self._held[provider] = self._held.get(provider, 0) + 1
        try:
            yield
        finally:
            self._held[provider] -= 1
            sem.release()
