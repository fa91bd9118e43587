"""Server-side change feeds used as triggers: they make the watcher look sooner, never instead.

- ownCloud 10 and Nextcloud: the activity app's feed, read with `sort=asc&since=<last id>`
  (304 when nothing is new), mapped to the folders to look at.
- oCIS: the server-sent events stream; an upload that finished post-processing (virus scan…)
  names no path, only ids, so it triggers one full poll ("*").

Each trigger pushes folder paths onto the same Redis list webhooks use, so one watcher loop
serves all of them. A feed that is missing (app disabled, 404) switches itself off quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from service.errors import UnsafePath
from service.storage.paths import normalize, parent
from service.watch.poller import POLL_EVERYTHING
from service.watch.rules import find_inbox

log = logging.getLogger(__name__)

ACTIVITY_TYPES = frozenset(
    {"file_created", "file_changed", "file_renamed", "file_moved", "file_restored"}
)
SSE_EVENTS = frozenset(
    {"postprocessing-finished", "item-renamed", "item-moved", "item-restored", "file-touched"}
)
OCS_HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}
# An oCIS event is a few hundred bytes; a line longer than this is a broken or hostile stream.
MAX_SSE_LINE = 64 * 1024

Push = Callable[[list[str]], Awaitable[None]]


class ActivityFeed:
    """Reads the activity feed of ownCloud 10 (app route) or Nextcloud (OCS v2)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        auth: httpx.Auth | None,
        *,
        nextcloud: bool,
        inbox_name: str,
        watch_root: str,
    ) -> None:
        self.http = http
        self.auth = auth
        path = (
            "/ocs/v2.php/apps/activity/api/v2/activity/files"
            if nextcloud
            else "/index.php/apps/activity/api/v2/activity/files"
        )
        self.url = base_url.rstrip("/") + path
        self.inbox_name = inbox_name
        self.watch_root = watch_root
        self.since: int | None = None
        self.enabled = True

    async def _get(self, params: dict[str, Any]) -> httpx.Response:
        return await self.http.get(
            self.url,
            params={**params, "format": "json"},
            headers=OCS_HEADERS,
            auth=self.auth or httpx.USE_CLIENT_DEFAULT,
        )

    async def start(self) -> None:
        """Begin after the newest activity: history is the poller's job, not ours."""
        resp = await self._get({"sort": "desc", "limit": 1})
        if resp.status_code in (404, 403, 501):
            log.info("activity feed not available (%s); polling only", resp.status_code)
            self.enabled = False
            return
        items = _items(resp)
        self.since = max((int(i.get("activity_id", 0)) for i in items), default=0)

    async def folders(self) -> list[str]:
        """Inbox folders that saw file activity since the last call."""
        if not self.enabled:
            return []
        if self.since is None:
            await self.start()
            return []
        resp = await self._get({"sort": "asc", "since": self.since, "limit": 200})
        if resp.status_code in (204, 304):
            return []
        if resp.status_code >= 400:
            log.debug("activity feed answered %s", resp.status_code)
            return []
        items = _items(resp)
        last = resp.headers.get("X-Activity-Last-Given")
        ids = [int(i.get("activity_id", 0)) for i in items]
        self.since = int(last) if last and last.isdigit() else max(ids, default=self.since)
        found = set()
        for item in items:
            if item.get("type") not in ACTIVITY_TYPES:
                continue
            name = item.get("object_name")
            if not isinstance(name, str):
                continue
            try:
                path = normalize(name)
            except UnsafePath:
                continue
            if find_inbox(path, self.inbox_name, self.watch_root) is not None:
                found.add(parent(path))
        return sorted(found)


def _items(resp: httpx.Response) -> list[dict[str, Any]]:
    try:
        data = resp.json()
    except ValueError:
        return []
    if isinstance(data, dict):
        data = (data.get("ocs") or {}).get("data", [])
    return [i for i in data if isinstance(i, dict)] if isinstance(data, list) else []


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


async def run_activity_trigger(
    feed: ActivityFeed, push: Push, *, interval: float, stop: asyncio.Event
) -> None:
    """Read the feed every `interval` seconds and push the folders it names."""
    while not stop.is_set() and feed.enabled:
        try:
            folders = await feed.folders()
            if folders:
                await push(folders)
        except httpx.HTTPError as exc:
            log.debug("activity feed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


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
