"""Hosting the watcher in a worker: one poller at a time, the trigger list, and background
tasks whose crash is logged instead of vanishing."""

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
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.config.settings import Settings
from service.logs import report_crash
from service.storage.webdav.client import DavClient
from service.storage.webdav.detect import OWNCLOUD10, ServerInfo
from service.storage.webdav.storage import WebDAVStorage
from service.watch.hosting import (
    background,
    push_folders,
    start_feeds,
    trigger_source,
    watch_lock,
)
from tests.redis_test import flushed


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with flushed(2) as r:
        yield r


async def test_only_one_worker_polls_at_a_time(redis: Redis) -> None:
    first, second = watch_lock(redis, ttl=30), watch_lock(redis, ttl=30)
    assert await first() is True
    assert await second() is False
    assert await first() is True  # the holder renews its lease


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


def garbled_activity_app() -> Starlette:
    """An activity feed answering JSON whose ids are not numbers (a broken proxy, an app bug)."""

    async def feed(request: Request) -> Response:
        return JSONResponse({"ocs": {"data": [{"activity_id": "not a number"}]}})

    return Starlette(routes=[Route("/index.php/apps/activity/api/v2/activity/files", feed)])


async def test_a_change_feed_that_crashes_says_so_in_the_log(
    redis: Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = httpx.ASGITransport(app=garbled_activity_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://oc") as http:
        info = ServerInfo(kind=OWNCLOUD10, user_id="u", files_root="/remote.php/dav/files/u/")
        storage = WebDAVStorage(DavClient(http, "http://oc", httpx.BasicAuth("u", "p")), info)
        settings = Settings(data_dir=tmp_path, owncloud_url="http://oc")
        stop = asyncio.Event()
        with caplog.at_level(logging.ERROR, logger="service"):
            [feed] = start_feeds(storage, settings, http, redis, stop)
            await asyncio.gather(feed, return_exceptions=True)
            await asyncio.sleep(0)
    assert feed.done()
    messages = [r.getMessage() for r in caplog.records]
    assert any("feed-owncloud10 crashed: ValueError" in m for m in messages), messages
