"""The arq worker: runs restore jobs and, on one worker at a time, the watcher's polling.

A job may run for `job_timeout` of the catalog: 15 min, or longer when a chain's model calls
may take longer (a clip model's timeout is minutes); each call has its own deadline inside it.

On SIGTERM arq stops taking jobs, gives running ones `DRAIN_SECONDS` to finish, then cancels
them; a cancelled job is re-queued (retry_jobs) and its record says it was handed back, so a
node drain loses nothing. Set the pod's terminationGracePeriodSeconds above DRAIN_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from arq import func
from arq.connections import RedisSettings
from arq.worker import Worker, async_check_health

from service.config.catalog import Catalog
from service.config.settings import Settings
from service.constants import (
    JOB_LOCAL_SECONDS,
    JOB_TIMEOUT_SECONDS,
    QUEUE_NAME,
    RESTORE_FUNCTION,
    WORKER_HEALTH_KEY,
)
from service.jobs.task import restore_job
from service.runtime.services import Services, load_checked_catalog
from service.watch.hosting import start_watcher

log = logging.getLogger(__name__)
# One key per host (pod): a probe must check its own worker, not whether any worker lives.
HEALTH_KEY = WORKER_HEALTH_KEY + socket.gethostname()


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
    owned = services is None
    catalog = services.catalog if services is not None else load_checked_catalog(settings)

    async def on_startup(ctx: dict[str, Any]) -> None:
        svc = services or await Services.open(settings, redis_url, catalog=catalog)
        ctx["services"] = svc
        if watch:
            ctx["watch_task"], ctx["watch_stop"] = start_watcher(svc.watcher(), svc.redis, svc.http)
        log.info(
            "worker ready: default chain %s, storage %s",
            svc.default_chain,
            type(svc.storage).__name__,
        )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if "watch_stop" in ctx:
            ctx["watch_stop"].set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(ctx["watch_task"], timeout=5)
        if owned and "services" in ctx:
            await ctx["services"].aclose()

    return Worker(
        functions=[
            func(
                restore_job,
                name=RESTORE_FUNCTION,
                max_tries=1000,
                timeout=job_timeout(catalog),
            )
        ],
        queue_name=QUEUE_NAME,
        redis_settings=RedisSettings.from_dsn(redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        max_jobs=settings.job_concurrency,
        keep_result=0,
        poll_delay=0.5,
        handle_signals=handle_signals,
        job_completion_wait=settings.drain_seconds,
        health_check_interval=10,
        health_check_key=HEALTH_KEY,
        retry_jobs=True,
        burst=burst,
    )


async def worker_is_healthy(redis_url: str) -> bool:
    """For `photo-restore worker --check` (the Kubernetes probe): a fresh health key."""
    return await async_check_health(RedisSettings.from_dsn(redis_url), HEALTH_KEY) == 0
