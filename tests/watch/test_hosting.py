"""Hosting the watcher in a worker: one poller at a time, the trigger list, which change feeds
run, and background tasks whose crash is logged instead of vanishing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.config.settings import Settings
from service.logs import report_crash
from service.storage.webdav.client import DavClient
from service.storage.webdav.detect import NEXTCLOUD, OCIS, OWNCLOUD10, ServerInfo
from service.storage.webdav.storage import WebDAVStorage
from service.watch.hosting import (
    background,
    push_folders,
    start_feeds,
    trigger_source,
    watch_lease,
)
from tests.redis_test import flushed


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with flushed(2) as r:
        yield r


async def test_only_one_worker_polls_at_a_time(redis: Redis) -> None:
    first, second = watch_lease(redis, ttl=30), watch_lease(redis, ttl=30)
    assert await first.acquire() is True
    assert await second.acquire() is False
    assert await first.acquire() is True  # the holder renews its lease
    assert await second.holder() == first.owner


async def test_folders_pushed_by_webhooks_reach_the_watcher(redis: Redis) -> None:
    await push_folders(redis, ["/F/to-restore", "/G/to-restore/sub"])
    await push_folders(redis, [])
    pop = trigger_source(redis)
    assert await pop() == ["/F/to-restore", "/G/to-restore/sub"]
    assert await pop() == []


async def test_a_crashed_background_task_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom() -> None:
        raise RuntimeError("the feed broke")

    with caplog.at_level(logging.ERROR, logger="service"):
        task = background(boom(), name="feed-test")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)  # done-callbacks run on the next loop turn
    [record] = [r for r in caplog.records if "feed-test" in r.getMessage()]
    assert "crashed: RuntimeError: the feed broke" in record.getMessage()
    assert record.exc_info is not None


async def test_a_cancelled_task_is_no_crash(caplog: pytest.LogCaptureFixture) -> None:
    task = asyncio.create_task(asyncio.sleep(10), name="stopped")
    task.add_done_callback(report_crash)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "stopped" in r.getMessage()]


def sse_app() -> Starlette:
    """An oCIS event stream that closes at once (enough to see the feed start)."""

    async def events(request: Request) -> Response:
        return Response("", media_type="text/event-stream")

    return Starlette(
        routes=[Route("/ocs/v2.php/apps/notifications/api/v1/notifications/sse", events)]
    )


@pytest.mark.parametrize(("kind", "feeds"), [(OWNCLOUD10, 0), (NEXTCLOUD, 0), (OCIS, 1)])
async def test_only_a_feed_that_saves_requests_is_started(
    redis: Redis, tmp_path: Path, kind: str, feeds: int
) -> None:
    # An activity read costs what a whole poll costs (one PROPFIND of WATCH_ROOT) and sees
    # less; oCIS's stream is one long request that names finished uploads at once.
    transport = httpx.ASGITransport(app=sse_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://oc") as http:
        info = ServerInfo(kind=kind, user_id="u", files_root="/remote.php/dav/files/u/")
        storage = WebDAVStorage(DavClient(http, "http://oc", httpx.BasicAuth("u", "p")), info)
        settings = Settings(data_dir=tmp_path, owncloud_url="http://oc")
        stop = asyncio.Event()
        tasks = start_feeds(storage, settings, http, redis, stop)
        assert len(tasks) == feeds
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
