"""Downloads at the network's speed: streamed into a local file, resumed after a drop.

httpx reads a response body in httpcore's 64 KiB pieces, and each piece climbs through
h11, httpcore and httpx before it reaches us: for 50 MB that is about 1,500 trips and twice
curl's time. So once the response head and the first piece have come the usual way, a large
plain body (HTTP/1.1, a Content-Length, no transfer or content coding) is read straight off
the connection's `network_stream` (the response extension httpcore offers for exactly such
hand-overs) in reads as large as the socket has ready. h11 hands over everything it buffered
in that first piece, so no byte is read twice or skipped; httpcore sees a body it did not
finish and closes that connection instead of reusing it, which is right and costs one new
connection after each big download. Anything else (HTTP/2, chunked, gzip, a test transport)
takes the ordinary road.

Disk writes run in a thread, in blocks of `BLOCK`, while the next bytes arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpcore
import httpx

from service.errors import from_os
from service.httpdate import parse_http_date
from service.storage.base import Entry
from service.storage.webdav.client import DavClient

BLOCK = 4 << 20  # bytes per disk write
RAW_MIN = 1 << 20  # smaller bodies are not worth a connection of their own
RAW_READ = 4 << 20  # the most asked of the connection at once
READ_TIMEOUT = 60.0  # a server silent this long mid-body is a dropped connection
# Sent so the bytes written are the file's: a gzip-ing proxy would otherwise hand us gzip.
IDENTITY = {"Accept-Encoding": "identity"}


async def download(dav: DavClient, url: str, path: str, dest: Path) -> Entry:
    """Stream `url` into `dest` via a temp sibling; resume with Range after a drop."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.download")
    fh = await asyncio.to_thread(tmp.open, "wb")
    state: dict[str, Any] = {"written": 0, "etag": None, "headers": None}
    try:
        await dav.retrying(f"GET {path}", lambda: _get_into(dav, url, path, fh, state))
        await asyncio.to_thread(fh.close)
        await asyncio.to_thread(os.replace, tmp, dest)
    except BaseException as exc:
        fh.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if (full := from_os(exc)) is not None:
            raise full from exc  # the local disk is full: that passes
        raise
    headers: httpx.Headers = state["headers"]
    return Entry(
        path=path,
        is_dir=False,
        size=state["written"],
        mtime=parse_http_date(headers.get("Last-Modified")) or 0.0,
        etag=(headers.get("ETag") or "").removeprefix("W/").strip('"') or None,
        file_id=headers.get("OC-FileId"),
        content_type=headers.get("Content-Type"),
    )


async def _get_into(dav: DavClient, url: str, path: str, fh: Any, state: dict[str, Any]) -> None:
    headers = dict(IDENTITY)
    if state["written"] and state["etag"]:
        # Resume only the same version: If-Range makes a changed file come back whole.
        headers.update({"Range": f"bytes={state['written']}-", "If-Range": state["etag"]})
    async with dav.stream(
        "GET", url, what=f"GET {path}", headers=headers, ok=lambda r: r.status_code in (200, 206)
    ) as resp:
        if resp.status_code == 200 and state["written"]:
            await asyncio.to_thread(fh.seek, 0)
            await asyncio.to_thread(fh.truncate)
            state["written"] = 0
        state["headers"] = resp.headers
        state["etag"] = resp.headers.get("ETag")
        expected = resp.headers.get("Content-Length")
        got = await _write_body(resp, fh, state)
        if expected is not None and expected.isdigit() and got != int(expected):
            raise httpx.ReadError(f"body ended after {got} of {expected} bytes")


async def _write_body(resp: httpx.Response, fh: Any, state: dict[str, Any]) -> int:
    """Copy the body into `fh`, the disk writes in a thread beside the reads; bytes read."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)

    async def writer() -> None:
        while (block := await queue.get()) is not None:
            await asyncio.to_thread(fh.write, block)
            state["written"] += len(block)

    task = asyncio.create_task(writer())
    pending: list[bytes] = []
    size = got = 0
    try:
        async for chunk in body_chunks(resp):
            pending.append(chunk)
            size += len(chunk)
            got += len(chunk)
            if size >= BLOCK:
                if task.done():  # the disk write failed: stop reading, raise its error
                    await task
                await queue.put(b"".join(pending))
                pending, size = [], 0
    finally:
        # Keep what arrived before a drop: the retry resumes after it.
        if pending and not task.done():
            await queue.put(b"".join(pending))
        if not task.done():
            await queue.put(None)
        await task
    return got


def _plain_length(resp: httpx.Response) -> int | None:
    """The body's length when it may be read off the connection as it is, else None."""
    length = resp.headers.get("Content-Length", "")
    coding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    if (
        resp.http_version != "HTTP/1.1"
        or "network_stream" not in resp.extensions
        or "Transfer-Encoding" in resp.headers
        or coding not in ("", "identity")
        or not length.isdigit()
        or int(length) < RAW_MIN
    ):
        return None
    return int(length)


async def body_chunks(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The raw body in the largest pieces the connection gives (see the module docstring)."""
    total = _plain_length(resp)
    pieces = resp.aiter_raw()
    if total is None:
        async for chunk in pieces:
            yield chunk
        return
    # h11's buffered part comes as one piece. The iterator is kept, not closed: closing it
    # (or letting it be collected) would close the connection under our reads.
    try:
        first = await pieces.__anext__()
    except StopAsyncIteration:
        return
    got = len(first)
    yield first
    stream = resp.extensions["network_stream"]
    while got < total:
        try:
            data = await stream.read(min(RAW_READ, total - got), timeout=READ_TIMEOUT)
        except httpcore.TimeoutException as exc:
            raise httpx.ReadTimeout(f"no data for {READ_TIMEOUT:.0f} s: {exc}") from exc
        except httpcore.NetworkError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        if not data:
            return  # the server closed early: the caller sees the short length and resumes
        got += len(data)
        yield data
