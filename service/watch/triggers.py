"""oCIS's server-sent events as a trigger: they make the watcher look sooner, never instead.

An upload that finished post-processing (virus scan…) names no path, only ids, so it triggers
one poll ("*"), which costs one request on an etag-propagating server. The trigger pushes onto
the same Redis list webhooks use, so one watcher loop serves both. A stream that is missing
(401/403/404/501) switches itself off quietly.

ownCloud 10's and Nextcloud's activity feed is not read: one read costs what a whole poll costs
and sees less (`service.watch.hosting.start_feeds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from service.watch.poller import POLL_EVERYTHING

log = logging.getLogger(__name__)

SSE_EVENTS = frozenset(
    {"postprocessing-finished", "item-renamed", "item-moved", "item-restored", "file-touched"}
)
# An oCIS event is a few hundred bytes; a line longer than this is a broken or hostile stream.
MAX_SSE_LINE = 64 * 1024

Push = Callable[[list[str]], Awaitable[None]]


async def sse_events(
    http: httpx.AsyncClient, url: str, auth: httpx.Auth | None
) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream, until the server closes it."""
    headers = {"Accept": "text/event-stream"}
    async with http.stream(
        "GET",
        url,
        headers=headers,
        auth=auth or httpx.USE_CLIENT_DEFAULT,
        timeout=httpx.Timeout(10.0, read=None),
    ) as resp:
        if resp.status_code != 200:
            raise httpx.HTTPStatusError(
                f"SSE answered {resp.status_code}", request=resp.request, response=resp
            )
        event = "message"
        data: list[str] = []
        async for line in bounded_lines(resp, MAX_SSE_LINE):
            if not line:
                if data:
                    yield event, "\n".join(data)
                event, data = "message", []
            elif line.startswith(":"):
                continue  # keep-alive comment
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())


async def bounded_lines(resp: httpx.Response, limit: int) -> AsyncIterator[str]:
    """The body's lines (CR, LF or CRLF) like `aiter_lines`, but a line that grows past `limit`
    characters ends the stream with ValueError instead of filling memory."""
    pending = ""
    async for text in resp.aiter_text():
        pending += text
        held = "\r" if pending.endswith("\r") else ""  # its "\n" may come in the next chunk
        body = pending[: len(pending) - len(held)]
        *lines, rest = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        pending = rest + held
        for line in lines:
            yield line
        if len(pending) > limit:
            raise ValueError(f"event stream line longer than {limit} characters")
    if pending:
        yield pending.removesuffix("\r")


async def run_sse_trigger(
    http: httpx.AsyncClient,
    url: str,
    auth: httpx.Auth | None,
    push: Push,
    *,
    stop: asyncio.Event,
    reconnect: float = 10.0,
) -> None:
    """Follow oCIS's event stream; reconnect after drops (events meanwhile are lost, so the
    first thing after a reconnect is a full poll)."""
    while not stop.is_set():
        try:
            await push([POLL_EVERYTHING])
            async for event, data in sse_events(http, url, auth):
                if event in SSE_EVENTS:
                    log.debug("oCIS event %s: %s", event, json.loads(data or "{}").get("itemid"))
                    await push([POLL_EVERYTHING])
                if stop.is_set():
                    return
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (401, 403, 404, 501):
                log.info(
                    "oCIS event stream not available (%s); polling only", exc.response.status_code
                )
                return
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("oCIS event stream dropped: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=reconnect)
