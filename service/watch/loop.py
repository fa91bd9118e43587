"""The watch loop: poll every POLL_INTERVAL, look at triggered folders at once and again after
SETTLE_SECONDS, hold the one-poller lease, and ride out outages quietly.

- A trigger (webhook, change feed) makes the watcher look at its folder now. A new file needs
  two equal looks, so a look that found something still settling schedules its own second
  look `settle` seconds later (and more, while it keeps settling): one webhook is enough for
  a restore within about 2 × SETTLE_SECONDS, whatever the poll interval.
- With a lease (`service.lease.Lease`), only its holder polls and takes triggers; the lease
  is renewed every third of its time to live, independent of the poll interval, released when
  the loop stops, and a standby asks for it every few seconds, so a holder that died is
  replaced at once (same host: its pid is gone) or when its heartbeat lapses.
- Redis or the storage away: one line in the log when it starts and one when it ends
  (`service.logs.Trouble`), a growing pause between tries, never a traceback per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from service.errors import PhotoRestoreError, from_redis
from service.lease import Lease
from service.logs import Trouble
from service.watch.poller import EMPTY_GRACE, POLL_EVERYTHING, PollReport, Watcher

log = logging.getLogger(__name__)
STANDBY_RETRY = 5.0  # seconds between a standby's requests for the lease
MAX_SETTLE_LOOKS = EMPTY_GRACE + 2  # an empty file needs EMPTY_GRACE settle periods
MAX_BACKOFF = 5.0  # a watcher back within seconds of its Redis or server


class SettleLooks:
    """Folders to look at soon: now when triggered, then every `settle` s while settling."""

    def __init__(self, settle: float) -> None:
        self.settle = max(settle, 0.2)
        self._due: dict[str, tuple[float, int]] = {}  # folder → (monotonic due time, looks left)

    def now(self, folder: str) -> None:
        """A trigger: look at once (a repeated trigger restarts the count)."""
        self._due[folder] = (time.monotonic(), MAX_SETTLE_LOOKS)

    def due(self) -> list[str]:
        """Folders whose look is due."""
        now = time.monotonic()
        return [f for f, (when, _) in self._due.items() if when <= now]

    def looked(self, folder: str, report: PollReport) -> None:
        """After a look: again in `settle` s while something there is settling."""
        _, left = self._due.pop(folder, (0.0, 0))
        if report.pending and left > 1:
            self._due[folder] = (time.monotonic() + self.settle, left - 1)

    def next_in(self) -> float:
        """Seconds until the next due look (large when none)."""
        if not self._due:
            return 3600.0
        return max(0.0, min(when for when, _ in self._due.values()) - time.monotonic())


class _Troubles:
    """What went wrong last, said once per run of the same kind, and how long to pause."""

    def __init__(self, redis: Trouble | None) -> None:
        self.redis = redis or Trouble(log, "Redis")
        self.storage = Trouble(log, "the storage")
        self.other = Trouble(log, "the watcher")
        self.failures = 0

    def failed(self, exc: Exception) -> float:
        """Note a failure; the pause before the next try."""
        self.failures += 1
        outage = from_redis(exc)
        if outage is not None:
            self.redis.failing(outage)
        elif isinstance(exc, PhotoRestoreError):
            self.storage.failing(exc)
        else:
            if self.other.since is None:
                log.exception("watching failed")
            self.other.failing(f"{type(exc).__name__}: {exc}")
        return float(min(MAX_BACKOFF, 0.25 * 2 ** min(self.failures, 8)))

    def ok(self) -> None:
        """A round went through."""
        self.failures = 0
        for trouble in (self.redis, self.storage, self.other):
            trouble.ok()


async def _hold(lease: Lease, holding: bool) -> bool:
    """Ask for the lease; say so when it changes hands."""
    got = await lease.acquire()
    if got and lease.took_over is not None:
        log.info("watch lease taken over from %s (that process is gone)", lease.took_over.process)
    elif got and not holding:
        log.info("watching: this process holds the watch lease")
    elif holding and not got:
        log.warning("watch lease lost to %s; standing by", await lease.holder())
    return got


async def _round(
    watcher: Watcher,
    triggers: Callable[[], Awaitable[list[str]]] | None,
    looks: SettleLooks,
    next_poll: float,
    interval: float,
    settle: float,
) -> float:
    """One turn of the holder: the regular poll when due, then triggered and settle looks;
    returns when the next regular poll is due."""
    if time.monotonic() >= next_poll:
        report = await watcher.poll_once()
        # While something settles, the second look comes after `settle`, not `interval`.
        next_poll = time.monotonic() + (
            min(interval, max(settle, 0.5)) if report.pending else interval
        )
    for folder in await triggers() if triggers is not None else []:
        looks.now(folder)
    for folder in looks.due():
        if folder == POLL_EVERYTHING:
            looks.looked(folder, await watcher.poll_once())
        else:
            looks.looked(folder, await watcher.poll_path(folder))
    return next_poll


async def run_watch_loop(
    watcher: Watcher,
    *,
    interval: float,
    settle: float,
    triggers: Callable[[], Awaitable[list[str]]] | None = None,
    lease: Lease | None = None,
    stop: asyncio.Event | None = None,
    redis_trouble: Trouble | None = None,
) -> None:
    """Poll until `stop` is set; see the module docstring."""
    stop = stop or asyncio.Event()
    looks = SettleLooks(settle)
    troubles = _Troubles(redis_trouble)
    holding = lease is None
    next_poll = next_lease = 0.0
    try:
        while not stop.is_set():
            try:
                if lease is not None and time.monotonic() >= next_lease:
                    holding = await _hold(lease, holding)
                    next_lease = time.monotonic() + (
                        lease.ttl / 3 if holding else min(interval, STANDBY_RETRY)
                    )
                if holding:
                    next_poll = await _round(watcher, triggers, looks, next_poll, interval, settle)
                troubles.ok()
                timeout = min(0.5, next_poll - time.monotonic(), looks.next_in())
            except Exception as exc:  # noqa: BLE001 - keep watching whatever one round hit
                timeout = troubles.failed(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.05, timeout))
    finally:
        if lease is not None and holding:
            with contextlib.suppress(Exception):
                await lease.release()
                log.info("watch lease released")
