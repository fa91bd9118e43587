"""Hosting the watcher inside a worker process: the poll loop as a background task, one poller
at a time across workers (a Redis lease), and the folders to look at now (a Redis list that
webhooks and the server's own change feeds push onto).

The worker (`service.runtime.worker`) builds the `Watcher` and hands it here with the shared
Redis and HTTP client; nothing here knows how the process was put together.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
from redis.asyncio import Redis

from service.config.settings import Settings
from service.constants import WATCH_LOCK_KEY, WATCH_TRIGGER_KEY
from service.logs import report_crash
from service.storage.base import Storage
from service.storage.webdav.detect import NEXTCLOUD, OCIS, OWNCLOUD10
from service.storage.webdav.storage import WebDAVStorage
from service.watch import triggers
from service.watch.poller import Watcher, run_watch_loop

log = logging.getLogger(__name__)


async def push_folders(redis: Redis, folders: list[str]) -> None:
    """Ask the watcher to look at `folders` soon (webhooks, change feeds)."""
    if folders:
        await redis.rpush(WATCH_TRIGGER_KEY, *folders)


def watch_lock(redis: Redis, ttl: float) -> Callable[[], Awaitable[bool]]:
    """A Redis lease so that only one worker polls at a time; others stand by."""
    token = secrets.token_hex(8)

    async def acquire() -> bool:
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
    """The server's own change feeds as extra triggers: ownCloud 10/Nextcloud activity, oCIS
    events. Webhooks and polling work without them."""
    if not isinstance(storage, WebDAVStorage) or not settings.owncloud_url:
        return []
    kind = storage.server_info.kind
    # The feeds speak to the same server with the same credentials as the WebDAV storage.
    auth = storage.auth

    async def push(folders: list[str]) -> None:
        await push_folders(redis, folders)

    if kind in (OWNCLOUD10, NEXTCLOUD):
        feed = triggers.ActivityFeed(
            http,
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
        coro = triggers.run_sse_trigger(http, url, auth, push, stop=stop)
    else:
        return []
    return [background(coro, name=f"feed-{kind}")]


def start_watcher(
    watcher: Watcher, redis: Redis, http: httpx.AsyncClient
) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Run the watch loop and the change feeds as background tasks of this process; set the
    returned event to stop them."""
    settings = watcher.settings
    stop = asyncio.Event()
    task = background(
        run_watch_loop(
            watcher,
            interval=settings.poll_interval,
            settle=settings.settle_seconds,
            triggers=trigger_source(redis),
            lock=watch_lock(redis, ttl=max(30.0, settings.poll_interval * 3)),
            stop=stop,
        ),
        name="watcher",
    )
    feeds = start_feeds(watcher.storage, settings, http, redis, stop)

    async def both() -> None:
        # Each crash is logged by its callback; one task's crash must not stop the others.
        await asyncio.gather(task, *feeds, return_exceptions=True)

    return asyncio.create_task(both(), name="watching"), stop
