"""Server change feeds as triggers: ownCloud 10/Nextcloud activity and oCIS events.

The feeds are served by a tiny app speaking the documented shapes (ownCloud cannot run here).
"""

from __future__ import annotations

import asyncio
import json

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from service.watch.triggers import ActivityFeed, run_sse_trigger, sse_events

ACTIVITIES = [
    {"activity_id": 10, "type": "file_created", "object_name": "/Old/photo.jpg"},
    {"activity_id": 11, "type": "file_created", "object_name": "/Family/to-restore/a b.jpg"},
    {"activity_id": 12, "type": "file_deleted", "object_name": "/Family/to-restore/gone.jpg"},
    {"activity_id": 13, "type": "file_changed", "object_name": "/G/to-restore/sub/x.jpg"},
    {"activity_id": 14, "type": "file_created", "object_name": "/G/to-restore/../../etc"},
]


def activity_app(seen: list[dict[str, str]]) -> Starlette:
    async def feed(request: Request) -> Response:
        params = dict(request.query_params)
        seen.append(params)
        if params.get("sort") == "desc":
            return JSONResponse({"ocs": {"meta": {}, "data": [ACTIVITIES[0]]}})
        since = int(params["since"])
        items = [a for a in ACTIVITIES if a["activity_id"] > since]
        if not items:
            return Response(status_code=304)
        return JSONResponse(
            {"ocs": {"meta": {}, "data": items}},
            headers={"X-Activity-Last-Given": str(items[-1]["activity_id"])},
        )

    return Starlette(routes=[Route("/index.php/apps/activity/api/v2/activity/files", feed)])


async def test_activity_feed_names_inbox_folders_once() -> None:
    seen: list[dict[str, str]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=activity_app(seen)), base_url="http://oc"
    ) as http:
        feed = ActivityFeed(
            http,
            "http://oc",
            httpx.BasicAuth("u", "p"),
            nextcloud=False,
            inbox_name="to-restore",
            watch_root="/",
        )
        assert await feed.folders() == []  # first call: start after the newest activity
        assert feed.since == 10
        assert await feed.folders() == ["/Family/to-restore", "/G/to-restore/sub"]
        assert feed.since == 14
        assert await feed.folders() == []  # 304: nothing new
    assert seen[1]["sort"] == "asc"
    assert seen[1]["since"] == "10"


async def test_a_missing_activity_app_switches_the_feed_off() -> None:
    app = Starlette(routes=[])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://oc"
    ) as http:
        feed = ActivityFeed(
            http, "http://oc", None, nextcloud=True, inbox_name="to-restore", watch_root="/"
        )
        assert await feed.folders() == []
        assert not feed.enabled


def sse_app() -> Starlette:
    async def stream(request: Request) -> Response:
        async def body():
            yield b": keep-alive\n\n"
            yield b'event: folder-created\ndata: {"itemid": "a"}\n\n'
            yield (
                "event: postprocessing-finished\ndata: "
                + json.dumps({"itemid": "s$p!n", "parentitemid": "s$p!f"})
                + "\n\n"
            ).encode()

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/sse", stream)])


async def test_sse_stream_is_parsed_into_events() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sse_app()), base_url="http://ocis"
    ) as http:
        events = [e async for e in sse_events(http, "http://ocis/sse", None)]
    assert [e for e, _ in events] == ["folder-created", "postprocessing-finished"]
    assert json.loads(events[1][1])["parentitemid"] == "s$p!f"


async def test_ocis_upload_finished_triggers_a_full_poll() -> None:
    pushed: list[list[str]] = []
    stop = asyncio.Event()

    async def push(folders: list[str]) -> None:
        pushed.append(folders)
        if len(pushed) == 3:
            stop.set()

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sse_app()), base_url="http://ocis"
    ) as http:
        await asyncio.wait_for(
            run_sse_trigger(http, "http://ocis/sse", None, push, stop=stop, reconnect=0.01),
            timeout=5,
        )
    # one full poll on connect (events before it were lost), one per relevant event
    assert pushed[:2] == [["*"], ["*"]]
