"""oCIS's event stream as a trigger, served by a tiny app speaking the documented shape
(oCIS cannot run here)."""

from __future__ import annotations

import asyncio
import json

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from service.watch.triggers import run_sse_trigger, sse_events


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
