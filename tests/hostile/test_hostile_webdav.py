"""Hostile WebDAV and event-stream answers through the real client: every one ends in a clear
refusal or a correct result, and the client stops reading as soon as it knows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from service.config.settings import Settings
from service.errors import StorageError, UnsafeXML
from service.storage.webdav import WebDAVStorage
from service.storage.webdav.client import DavClient
from service.storage.webdav.detect import OCIS, ServerInfo
from service.storage.webdav.xml import MAX_XML_BYTES
from service.watch.triggers import sse_events
from tests.hostile.corpus import ODD_HREF_SEGMENTS, multistatus
from tests.hostile.servers import Handler, Hostile, kernel_slack
from tests.storage.webdav.conftest import FAST_RETRY

MIB = 1 << 20


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def serving(answer: object) -> Iterator[Hostile]:
    server = Hostile(answer)  # type: ignore[arg-type]
    yield server
    server.stop()


async def connect(url: str, http: httpx.AsyncClient) -> WebDAVStorage:
    settings = Settings(owncloud_url=url, owncloud_user="u", owncloud_password="p")  # type: ignore[arg-type]
    return await WebDAVStorage.connect(settings, http, retry=FAST_RETRY)


def _status_404(h: Handler) -> bool:
    if h.path.endswith("status.php") or h.command != "PROPFIND":
        h.send_response(404)
        h.send_header("Content-Length", "0")
        h.end_headers()
        return True
    return False


def endless_listing(h: Handler) -> None:
    """A Depth-1 answer that never ends (chunked, no length): 16 KiB entries forever."""
    if _status_404(h):
        return
    depth0 = h.headers.get("Depth") == "0"
    h.send_response(207)
    h.send_header("Content-Type", "application/xml")
    if depth0:
        body = multistatus([], root="/dav/")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.send(body)
        return
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    h.chunk(b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">')
    entry = b"<d:response><d:href>/dav/" + b"a" * 16_000 + b"</d:href></d:response>"
    for _ in range(3 * MAX_XML_BYTES // len(entry)):
        h.chunk(entry)


async def test_a_propfind_answer_past_the_limit_is_refused_while_it_streams(
    http: httpx.AsyncClient,
) -> None:
    for server in serving(endless_listing):
        storage = await connect(server.url + "/dav", http)
        with pytest.raises(UnsafeXML, match="limit"):
            await storage.list("/")
        # Stopped reading: what was sent is the limit plus kernel buffers, not 192 MB.
        assert server.sent < MAX_XML_BYTES + kernel_slack()


def announced_huge(h: Handler) -> None:
    if _status_404(h):
        return
    h.send_response(207)
    h.send_header("Content-Length", str(500 * MIB))
    h.end_headers()
    if h.headers.get("Depth") == "0":
        h.send(multistatus([], root="/dav/").ljust(500 * MIB, b" ")[: 4 * MIB])


async def test_an_announced_huge_propfind_answer_is_refused_unread(
    http: httpx.AsyncClient,
) -> None:
    for server in serving(announced_huge):
        with pytest.raises(UnsafeXML, match="limit"):
            await connect(server.url + "/dav", http)


def odd_listing(h: Handler) -> None:
    if _status_404(h):
        return
    good = ["Family%20to-restore/", "scan%201.jpg"]
    body = multistatus(good + ODD_HREF_SEGMENTS, root="/dav/")
    h.send_response(207)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.send(body)


async def test_odd_hrefs_are_skipped_and_the_rest_of_the_folder_listed(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for server in serving(odd_listing):
        storage = await connect(server.url + "/dav", http)
        names = sorted(e.name for e in await storage.list("/"))
        assert names == ["Family to-restore", "scan 1.jpg"]
        assert "skipping an entry" in caplog.text


def tus_elsewhere(evil: Hostile) -> object:
    def answer(h: Handler) -> None:
        if h.command == "POST":
            h.send_response(201)
            h.send_header("Location", f"{evil.url}/uploads/1")
            h.send_header("Tus-Resumable", "1.0.0")
        else:
            h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return answer


def recorder(h: Handler) -> None:
    h.send_response(204)
    h.send_header("Content-Length", "0")
    h.end_headers()


async def test_a_tus_location_on_another_host_is_never_followed(
    http: httpx.AsyncClient,
) -> None:
    for evil in serving(recorder):
        for server in serving(tus_elsewhere(evil)):
            dav = DavClient(http, server.url, httpx.BasicAuth("alice", "secret"), FAST_RETRY)
            info = ServerInfo(kind=OCIS, user_id="alice", tus=True, files_root="/dav/")
            storage = WebDAVStorage(dav, info, chunk_threshold=MIB)
            with pytest.raises(StorageError) as refused:
                await storage.write_atomic("/restored/big.tif", b"\0" * (2 * MIB))
        assert evil.requests == []  # neither the photo nor the credentials went there
        assert "another host" in str(refused.value)


def endless_line(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    h.chunk(b"event: postprocessing-finished\ndata: ")
    for _ in range(1024 + kernel_slack() // (64 * 1024)):  # far more than buffers hold
        h.chunk(b"x" * 64 * 1024)


async def test_an_endless_event_stream_line_ends_the_stream(http: httpx.AsyncClient) -> None:
    for server in serving(endless_line):
        with pytest.raises(ValueError, match="longer than"):
            async for _event in sse_events(http, server.url + "/sse", None):
                pass
        assert server.sent < kernel_slack()  # the client hung up at the 64 KiB line limit
