"""The arq worker: runs restore jobs and, on one worker at a time, the watcher's polling.

On SIGTERM arq stops taking jobs, gives running ones `DRAIN_SECONDS` to finish, then cancels
them; a cancelled job is re-queued (retry_jobs) and its record says it was handed back, so a
node drain loses nothing. Set the pod's terminationGracePeriodSeconds above DRAIN_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from typing import Any

from arq import func
from arq.connections import RedisSettings
from arq.worker import Worker, async_check_health

from service.config.settings import Settings
from service.constants import JOB_TIMEOUT_SECONDS, QUEUE_NAME, WATCH_LOCK_KEY, WATCH_TRIGGER_KEY
from service.jobs.queue import RESTORE_FUNCTION
from service.jobs.restore import restore_job
from service.jobs.services import Services
from service.watch.poller import Watcher, run_watch_loop

log = logging.getLogger(__name__)
# One key per host (pod): a probe must check its own worker, not whether any worker lives.
HEALTH_KEY = f"{QUEUE_NAME}:health-check:{socket.gethostname()}"


def watch_lock(services: Services, ttl: float) -> Any:
    """A Redis lease so that only one worker polls at a time; others stand by."""
    token = secrets.token_hex(8)

    async def acquire() -> bool:
        redis = services.redis
        px = int(ttl * 1000)
        if await redis.set(WATCH_LOCK_KEY, token, nx=True, px=px):
            return True
        current = await redis.get(WATCH_LOCK_KEY)
        if (
            current is not None
            and (current.decode() if isinstance(current, bytes) else current) == token
        ):
            await redis.pexpire(WATCH_LOCK_KEY, px)
            return True
        return False

    return acquire


def trigger_source(services: Services) -> Any:
    """Folders named by webhooks, pushed by the web process."""

    async def pop() -> list[str]:
        items = await services.redis.lpop(WATCH_TRIGGER_KEY, 100)
        return [i.decode() if isinstance(i, bytes) else i for i in (items or [])]

    return pop


def start_feeds(services: Services, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """The server's own change feeds as extra triggers: ownCloud 10/Nextcloud activity, oCIS
    events. Webhooks and polling work without them."""
    info = getattr(services.storage, "server_info", None)
    settings = services.settings
    kind = getattr(info, "kind", None)
    if kind is None or not settings.owncloud_url:
        return []
    from service.storage.webdav.detect import NEXTCLOUD, OCIS, OWNCLOUD10
    from service.watch import triggers

    # The feeds speak to the same server with the same credentials as the WebDAV storage.
    auth = services.storage.dav.auth  # type: ignore[attr-defined]

    async def push(folders: list[str]) -> None:
        await services.redis.rpush(WATCH_TRIGGER_KEY, *folders)

    if kind in (OWNCLOUD10, NEXTCLOUD):
        feed = triggers.ActivityFeed(
            services.http,
            settings.owncloud_url,
            auth,
            nextcloud=kind == NEXTCLOUD,
            inbox_name=settings.inbox_name,
            watch_root=settings.watch_root,
        )
        coro = triggers.run_activity_trigger(
            feed, push, interval=max(5.0, settings.poll_interval / 6), stop=stop
        )
    elif kind == OCIS:
        url = settings.owncloud_url + "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"
        coro = triggers.run_sse_trigger(services.http, url, auth, push, stop=stop)
    else:
        return []
    return [asyncio.create_task(coro, name=f"feed-{kind}")]


def start_watcher(services: Services) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Run the watch loop as a background task of this process."""
    settings = services.settings
    watcher = Watcher(
        services.storage,
        settings,
        services.catalog,
        services.queue,
        services.ledger,
        default_chain=services.default_chain,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_watch_loop(
            watcher,
            interval=settings.poll_interval,
            settle=settings.settle_seconds,
            triggers=trigger_source(services),
            lock=watch_lock(services, ttl=max(30.0, settings.poll_interval * 3)),
            stop=stop,
        ),
        name="watcher",
    )
    feeds = start_feeds(services, stop)

    async def both() -> None:
        await asyncio.gather(task, *feeds, return_exceptions=True)

    return asyncio.create_task(both(), name="watching"), stop


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

    async def on_startup(ctx: dict[str, Any]) -> None:
        svc = services or await Services.open(settings, redis_url)
        ctx["services"] = svc
        if watch:
            ctx["watch_task"], ctx["watch_stop"] = start_watcher(svc)
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
                timeout=JOB_TIMEOUT_SECONDS,
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
