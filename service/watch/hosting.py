"""Hosting the watcher inside a worker process: the poll loop as a background task, one poller
at a time across workers (a Redis lease naming its owner, `service.lease`), and the folders to
look at now (a Redis list that webhooks and the server's own change feeds push onto).

The worker (`service.runtime.worker`) builds the `Watcher` and hands it here with the shared
Redis and HTTP client; nothing here knows how the process was put together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
from redis.asyncio import Redis

from service.config.settings import Settings
from service.constants import WATCH_LEASE_SECONDS, WATCH_LOCK_KEY, WATCH_TRIGGER_KEY
from service.lease import Lease
from service.logs import Trouble, report_crash
from service.storage.base import Storage
from service.storage.webdav.detect import OCIS
from service.storage.webdav.storage import WebDAVStorage
from service.watch import triggers
from service.watch.loop import run_watch_loop
from service.watch.poller import Watcher

log = logging.getLogger(__name__)


async def push_folders(redis: Redis, folders: list[str]) -> None:
    """Ask the watcher to look at `folders` soon (webhooks, change feeds)."""
    if folders:
        await redis.rpush(WATCH_TRIGGER_KEY, *folders)


def watch_lease(redis: Redis, ttl: float = WATCH_LEASE_SECONDS) -> Lease:
    """The lease that lets only one worker poll at a time; others stand by."""
    return Lease(redis, WATCH_LOCK_KEY, ttl)


def trigger_source(redis: Redis) -> Callable[[], Awaitable[list[str]]]:
    """Folders named by webhooks and feeds, possibly pushed by another process."""

    async def pop() -> list[str]:
        items = await redis.lpop(WATCH_TRIGGER_KEY, 100)
        return [i.decode() if isinstance(i, bytes) else i for i in (items or [])]

    return pop


def background(coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
    """A background task of this process whose crash is logged the moment it happens."""
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(report_crash)
    return task


def start_feeds(
    storage: Storage,
    settings: Settings,
    http: httpx.AsyncClient,
    redis: Redis,
    stop: asyncio.Event,
) -> list[asyncio.Task[None]]:
    """The server's own change feed as an extra trigger where it saves requests: oCIS's event
    stream (one long-lived request that names finished uploads at once).

    ownCloud 10 and Nextcloud get none: a read of their activity feed costs one request, the
    same as the whole poll (one Depth-0 PROPFIND of WATCH_ROOT), and sees less (nothing of
    external storage or of files scanned in from the server's disk). Lower POLL_INTERVAL, or
    register Nextcloud's webhooks, for faster looks there.
    """
    if not isinstance(storage, WebDAVStorage) or not settings.owncloud_url:
        return []
    if storage.server_info.kind != OCIS:
        return []

    async def push(folders: list[str]) -> None:
        await push_folders(redis, folders)

    url = settings.owncloud_url + "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"
    # The feed speaks to the same server with the same credentials as the WebDAV storage.
    coro = triggers.run_sse_trigger(http, url, storage.auth, push, stop=stop)
    return [background(coro, name=f"feed-{OCIS}")]


def start_watcher(
    watcher: Watcher,
    redis: Redis,
    http: httpx.AsyncClient,
    *,
    redis_trouble: Trouble | None = None,
) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Run the watch loop and the change feeds as background tasks of this process; set the
    returned event to stop them (the loop then releases its lease)."""
    settings = watcher.settings
    stop = asyncio.Event()
    task = background(
        run_watch_loop(
            watcher,
            interval=settings.poll_interval,
            settle=settings.settle_seconds,
            triggers=trigger_source(redis),
            lease=watch_lease(redis),
            stop=stop,
            redis_trouble=redis_trouble,
        ),
        name="watcher",
    )
    feeds = start_feeds(watcher.storage, settings, http, redis, stop)

    async def both() -> None:
        # Each crash is logged by its callback; one task's crash must not stop the others.
        await asyncio.gather(task, *feeds, return_exceptions=True)

    return asyncio.create_task(both(), name="watching"), stop
