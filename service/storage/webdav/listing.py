"""PROPFIND answers read defensively: bounded while they arrive, one bad entry skipped.

A hostile or broken server can answer a listing with hundreds of megabytes: the body is read
as a stream and refused (UnsafeXML) the moment it passes `MAX_XML_BYTES`, never held whole
first. An href that is no plain path once decoded (`%2F` inside a name, `..`, a backslash, a
control character) is logged and left out, so one oddly named entry under the watch root can
never fail the poll of every inbox nor the dashboard's list of inboxes.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlsplit

import httpx

from service.errors import UnsafePath, UnsafeXML
from service.storage.paths import child, nfc
from service.storage.webdav.client import DavClient
from service.storage.webdav.xml import MAX_XML_BYTES, PROPFIND_BODY, DavResponse, parse_multistatus

log = logging.getLogger(__name__)
PROPFIND_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}


async def _bounded_body(resp: httpx.Response, what: str, limit: int) -> bytes:
    """The whole body, or UnsafeXML as soon as more than `limit` bytes came (or are announced)."""
    announced = resp.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > limit:
        raise UnsafeXML(f"{what}: answer of {int(announced)} bytes, over the limit of {limit}")
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise UnsafeXML(f"{what}: answer over the limit of {limit} bytes; refused")
        parts.append(chunk)
    return b"".join(parts)


async def propfind(
    dav: DavClient, url: str, *, what: str, depth: int, limit: int = MAX_XML_BYTES
) -> bytes | None:
    """The multistatus body of a PROPFIND (Depth 0 or 1), None on 404; bounded by `limit`."""
    assert depth in (0, 1)

    async def exchange() -> bytes | None:
        async with dav.stream(
            "PROPFIND",
            url,
            what=what,
            headers={**PROPFIND_HEADERS, "Depth": str(depth)},
            content=PROPFIND_BODY,
            ok=lambda r: r.status_code in (207, 404),
        ) as resp:
            if resp.status_code == 404:
                return None
            return await _bounded_body(resp, what, limit)

    # The body streams outside the client's retry loop: a drop half-way is tried again here.
    body = await dav.retrying(what, exchange)
    assert body is None or isinstance(body, bytes)
    return body


def rel_path(href: str, root_segments: list[str]) -> str | None:
    """Storage path of an href, None when it lies outside the files root; UnsafePath when a
    decoded segment is not a plain name."""
    segs = [unquote(s) for s in urlsplit(href).path.split("/") if s]
    if [nfc(s) for s in segs[: len(root_segments)]] != root_segments:
        return None
    path = "/"
    for seg in segs[len(root_segments) :]:
        path = child(path, seg)
    return path


def entries(data: bytes, root_segments: list[str], what: str) -> list[tuple[str, DavResponse]]:
    """(storage path, response) of each usable entry of a multistatus body."""
    out = []
    for item in parse_multistatus(data):
        try:
            rel = rel_path(item.href, root_segments)
        except UnsafePath as exc:
            log.warning("%s: skipping an entry: %s", what, exc)
            continue
        if rel is not None and item.status < 400:
            out.append((rel, item))
    return out
