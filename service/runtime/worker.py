"""The arq worker: runs restore jobs and, on one worker at a time, the watcher's polling.

A job may run for `job_timeout` of the catalog: 15 min, or longer when a chain's model calls
may take longer (a clip model's timeout is minutes); each call has its own deadline inside it.

On SIGTERM arq stops taking jobs, gives running ones `DRAIN_SECONDS` to finish, then cancels
them; a cancelled job is re-queued (retry_jobs) and its record says it was handed back, so a
node drain loses nothing. Set the pod's terminationGracePeriodSeconds above DRAIN_SECONDS.

Faults it rides out (`SupervisedWorker`):
- Redis away: arq's loop would die of the first ConnectionError; here it waits (said once in
  the log, `Trouble`), and arq's own bookkeeping of a finished job waits for Redis rather than
  leaving the job marked in progress for the whole job timeout. The health key is not renewed
  meanwhile, so `worker --check` (the liveness probe) fails while the worker cannot work.
- A worker killed mid-job: every worker's heartbeat lease and the running-job entries
  (`jobs.recovery`) let the next worker to start (or any live one, within a heartbeat) hand
  its jobs back at once.
- The health line counts what the jobs ended as (done, failed, retried), not arq's view, in
  which a job that failed with an explained note "completed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from arq import func
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from arq.worker import Worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.config.catalog import Catalog
from service.config.settings import Settings
from service.constants import (
    JOB_LOCAL_SECONDS,
    JOB_TIMEOUT_SECONDS,
    QUEUE_NAME,
    RESTORE_FUNCTION,
    WORKER_HEALTH_KEY,
)
from service.errors import from_redis
from service.jobs.outages import until_redis
from service.jobs.recovery import JobLeases, worker_lease
from service.jobs.task import restore_job
from service.logs import Trouble, skipping_redis_outage
from service.runtime.services import Services, load_checked_catalog
from service.watch.hosting import start_watcher

log = logging.getLogger(__name__)
# One key per host (pod): a probe must check its own worker, not whether any worker lives.
HEALTH_KEY = WORKER_HEALTH_KEY + socket.gethostname()
HEALTH_INTERVAL = 10.0
MAX_PAUSE = 5.0


class SupervisedWorker(Worker):
    """arq's Worker that rides out Redis outages and tells its health truthfully."""

    def __init__(self, *args: Any, trouble: Trouble, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trouble = trouble
        self._pause = 0.5

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
            if self.trouble.since is not None:
                # With every slot busy an iteration asks Redis nothing: ask before saying
                # Redis is back.
                await self.pool.ping()
        except RedisError as exc:
            outage = from_redis(exc)
            if outage is None:
                raise
            self.trouble.failing(outage)
            await asyncio.sleep(self._pause)
            self._pause = min(self._pause * 2, MAX_PAUSE)
        else:
            self._pause = 0.5
            self.trouble.ok()

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except RedisError as exc:
            outage = from_redis(exc)
            if outage is None:
                raise
            self.trouble.failing(outage)
            # The bookkeeping around the job met the outage: free it to run again once Redis
            # is back, rather than leave it "in progress" for the whole job timeout.
            await until_redis(
                self.trouble, lambda: self.pool.delete(in_progress_key_prefix + job_id)
            )

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        await until_redis(
            self.trouble, lambda: super(SupervisedWorker, self).finish_job(*args, **kwargs)
        )

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await until_redis(
            self.trouble,
            lambda: super(SupervisedWorker, self).finish_failed_job(job_id, result_data),
        )

    async def record_health(self) -> None:
        now = time.time()
        if now - self._last_health_check < self.health_check_interval:
            return
        tally: dict[str, int] = self.ctx.get("tally", {})
        ongoing = sum(not t.done() for t in self.tasks.values())
        queued = await self.pool.zcard(self.queue_name)
        info = (
            f"{datetime.now():%b-%d %H:%M:%S} j_done={tally.get('done', 0)} "
            f"j_failed={tally.get('failed', 0)} j_retried={tally.get('retried', 0)} "
            f"j_ongoing={ongoing} queued={queued}"
        )
        await self.pool.psetex(
            self.health_check_key, int((self.health_check_interval + 1) * 1000), info.encode()
        )
        self._last_health_check = now
        if info[16:] != self._last_health_check_log:
            self._last_health_check_log = info[16:]
            log.debug("recording health: %s", info)


async def _heartbeat(leases: JobLeases, trouble: Trouble, stop: asyncio.Event) -> None:
    """Keep this worker's lease alive and hand back the jobs of workers that are gone."""
    while not stop.is_set():
        with skipping_redis_outage(trouble):
            await leases.lease.acquire()
            await leases.recover()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=leases.lease.ttl / 3)


async def _quietly(trouble: Trouble, call: Awaitable[Any]) -> None:
    """A bookkeeping call that may be skipped while Redis is away (recovery copes)."""
    with skipping_redis_outage(trouble):
        await call


class _Lifecycle:
    """The worker's start-up and shutdown, and the bookkeeping around each job."""

    def __init__(
        self, settings: Settings, redis_url: str, watch: bool, services: Services | None
    ) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self.watch = watch
        self.services = services
        self.trouble = services.trouble if services is not None else Trouble(log, "Redis")
        self.catalog = services.catalog if services is not None else load_checked_catalog(settings)

    async def on_startup(self, ctx: dict[str, Any]) -> None:
        svc = self.services or await Services.open(
            self.settings, self.redis_url, catalog=self.catalog, trouble=self.trouble
        )
        svc.hosts_worker = True
        ctx["services"] = svc
        ctx["tally"] = {}  # shared with every job's copy of ctx
        leases = JobLeases(svc.redis, svc.store, worker_lease(svc.redis))
        await leases.lease.acquire()
        await leases.recover()  # jobs a dead worker (this one's last life) left running
        ctx["leases"], ctx["beat_stop"] = leases, asyncio.Event()
        ctx["beat"] = asyncio.create_task(_heartbeat(leases, svc.trouble, ctx["beat_stop"]))
        if self.watch:
            ctx["watch_task"], ctx["watch_stop"] = start_watcher(
                svc.watcher(), svc.redis, svc.http, redis_trouble=svc.trouble
            )
        log.info(
            "worker ready: default chain %s, storage %s",
            svc.default_chain,
            type(svc.storage).__name__,
        )

    async def on_shutdown(self, ctx: dict[str, Any]) -> None:
        for stop, task in (("watch_stop", "watch_task"), ("beat_stop", "beat")):
            if stop in ctx:
                ctx[stop].set()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(ctx[task], timeout=5)
        if "leases" in ctx:
            # Gone at once: jobs this worker could not hand back itself need no heartbeat wait.
            await _quietly(self.trouble, ctx["leases"].lease.release())
        if self.services is None and "services" in ctx:
            await ctx["services"].aclose()

    async def on_job_start(self, ctx: dict[str, Any]) -> None:
        await _quietly(self.trouble, ctx["leases"].started(ctx["job_id"]))

    async def on_job_end(self, ctx: dict[str, Any]) -> None:
        await _quietly(self.trouble, ctx["leases"].finished(ctx["job_id"]))


def job_timeout(catalog: Catalog) -> float:
    """arq's limit on one job: JOB_TIMEOUT_SECONDS, or the slowest chain's time budget (its
    model calls' hard stops plus JOB_LOCAL_SECONDS) when that is longer."""
    budgets = [catalog.time_budget(c) + JOB_LOCAL_SECONDS for c in catalog.chains.values()]
    return max([JOB_TIMEOUT_SECONDS, *budgets])


def make_worker(
    settings: Settings,
    redis_url: str,
    *,
    watch: bool = True,
    handle_signals: bool = True,
    burst: bool = False,
    services: Services | None = None,
) -> Worker:
    """Build the arq Worker for this process; `services` may be shared with the web app."""
    life = _Lifecycle(settings, redis_url, watch, services)
    catalog = life.catalog
    return SupervisedWorker(
        functions=[
            func(
                restore_job,
                name=RESTORE_FUNCTION,
                max_tries=1000,
                timeout=job_timeout(catalog),
            )
        ],
        trouble=life.trouble,
        queue_name=QUEUE_NAME,
        redis_settings=RedisSettings.from_dsn(redis_url),
        on_startup=life.on_startup,
        on_shutdown=life.on_shutdown,
        on_job_start=life.on_job_start,
        on_job_end=life.on_job_end,
        max_jobs=settings.job_concurrency,
        keep_result=0,
        poll_delay=0.5,
        handle_signals=handle_signals,
        job_completion_wait=settings.drain_seconds,
        health_check_interval=HEALTH_INTERVAL,
        health_check_key=HEALTH_KEY,
        retry_jobs=True,
        burst=burst,
    )


async def worker_is_healthy(redis_url: str) -> bool:
    """For `photo-restore worker --check` (the Kubernetes probe): a fresh health key.

    A worker that cannot reach Redis cannot renew it, so the probe fails while the worker
    cannot work; an unreachable Redis is a failed probe too, never a traceback.
    """
    redis = Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        return bool(await redis.exists(HEALTH_KEY))
    except RedisError as exc:
        log.warning("worker check: %s", from_redis(exc) or exc)
        return False
    finally:
        await redis.aclose()
