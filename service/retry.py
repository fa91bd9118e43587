"""Retrying, the same way everywhere: one backoff policy, one loop of attempts, one reading of
Retry-After.

The WebDAV client and the inference client retry a request a few times within one job; the
job queue retries a whole job later (`service.jobs.task`). All three count attempts from 1
(the first try) and wait the larger of their backoff and the server's own hint:

    for attempt in attempts(policy):
        try:
            return await send()
        except Overloaded as exc:
            if not await attempt.again(exc.retry_after):
                raise          # tries spent, or the server asks for longer than max_wait
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from service.httpdate import parse_http_date

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded tries with exponential backoff and jitter.

    The defaults suit a request inside a job: four tries over about 1 + 2 + 4 s ride out a
    lock held by a sync client, a proxy restart or a provider's brief overload, and are short
    enough that a worker is not parked; a longer trouble is the job queue's to wait out. A
    server hint beyond `max_wait` ends the tries at once, for the same reason.
    """

    attempts: int = 4
    base: float = 1.0  # seconds before the second try
    factor: float = 2.0
    max_delay: float = 8.0  # cap of the backoff itself
    max_wait: float = 30.0  # a longer wait (a server's hint) is not slept on: give up
    jitter: float = 0.25  # ± this share, so workers don't retry in step
    max_hint: float = 3600.0  # a server's hint is honoured up to this

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after try number `attempt` (1 = the first) failed."""
        backoff = min(self.max_delay, self.base * self.factor ** max(0, attempt - 1))
        if self.jitter:
            backoff *= 1 + self.jitter * (2 * random.random() - 1)
        hint = min(retry_after, self.max_hint) if retry_after and retry_after > 0 else 0.0
        return max(backoff, hint)

    def next_wait(
        self, attempt: int, retry_after: float | None = None, *, budget: float = math.inf
    ) -> float | None:
        """The wait before another try, or None when giving up is better: the tries are
        spent, or the wait is longer than `max_wait` or than the `budget` of time left."""
        if attempt >= self.attempts:
            return None
        wait = self.delay(attempt, retry_after)
        if wait > self.max_wait or wait >= budget:
            return None
        return wait


class Attempt:
    """One try of `attempts`; after a failure, `await attempt.again()` waits for the next."""

    def __init__(self, policy: RetryPolicy, number: int, sleep: Sleep) -> None:
        self.policy = policy
        self.number = number
        self._sleep = sleep

    @property
    def last(self) -> bool:
        """True when no try follows this one whatever happens."""
        return self.number >= self.policy.attempts

    async def again(
        self,
        retry_after: float | None = None,
        *,
        budget: float = math.inf,
        announce: Callable[[float], None] | None = None,
    ) -> bool:
        """After a failure: wait, then True when another try follows; False at once when the
        caller should raise instead. `announce` hears the wait before it starts (for logs)."""
        wait = self.policy.next_wait(self.number, retry_after, budget=budget)
        if wait is None:
            return False
        if announce is not None:
            announce(wait)
        await self._sleep(wait)
        return True


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def attempts(policy: RetryPolicy, *, sleep: Sleep = _sleep) -> Iterator[Attempt]:
    """Tries 1 … `policy.attempts`; a try whose failure asks `again()` is followed by the next
    after the wait, a try that returns or raises ends the loop."""
    for number in range(1, policy.attempts + 1):
        yield Attempt(policy, number, sleep)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = parse_http_date(value)
        return None if when is None else max(0.0, when - time.time())
    return max(0.0, seconds) if math.isfinite(seconds) else None
