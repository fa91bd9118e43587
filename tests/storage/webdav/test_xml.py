"""Hostile or odd multistatus answers, served by a tiny loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from service.config.settings import Settings
from service.errors import StorageError, UnsafeXML
from service.storage.webdav import WebDAVStorage
from service.storage.webdav.xml import parse_multistatus, safe_fromstring
from tests.servers import CannedServer
from tests.storage.webdav.conftest import FAST_RETRY

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d:multistatus [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/&xxe;</d:href></d:response></d:multistatus>
"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/&lol9;</d:href></d:response></d:multistatus>
"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE multistatus SYSTEM "http://127.0.0.1:9/evil.dtd">
<d:multistatus xmlns:d="DAV:"/>
"""

# Odd prefixes on purpose: parsing goes by namespace URI, never by prefix.
OCIS_LISTING = b"""<?xml version="1.0" encoding="utf-8"?>
<x:multistatus xmlns:x="DAV:" xmlns:own="http://owncloud.org/ns">
 <x:response><x:href>/dav/</x:href>
  <x:propstat><x:prop><x:resourcetype><x:collection/></x:resourcetype>
   <x:getetag>"root-1"</x:getetag></x:prop><x:status>HTTP/1.1 200 OK</x:status></x:propstat>
 </x:response>
 <x:response><x:href>/dav/Scan%20001%20%C3%A4%23%3F.jpg</x:href>
  <x:propstat><x:prop><x:getetag>"e-1"</x:getetag><x:getcontentlength>42</x:getcontentlength>
   <own:fileid>storage$space!node-1</own:fileid><own:permissions>RDNVW</own:permissions>
   <x:getlastmodified>Wed, 20 Jul 2022 05:12:23 GMT</x:getlastmodified>
   <x:resourcetype/></x:prop><x:status>HTTP/1.1 200 OK</x:status></x:propstat>
  <x:propstat><x:prop><own:size/></x:prop><x:status>HTTP/1.1 404 Not Found</x:status></x:propstat>
 </x:response>
 <x:response><x:href>/dav/processing.jpg</x:href>
  <x:propstat><x:prop><x:getcontentlength>7</x:getcontentlength><x:resourcetype/></x:prop>
   <x:status>HTTP/1.1 425 TOO EARLY</x:status></x:propstat>
 </x:response>
</x:multistatus>
"""


@pytest.fixture
def canned(request: pytest.FixtureRequest) -> Iterator[CannedServer]:
    server = CannedServer(request.param)
    yield server
    server.stop()


async def connect(url: str, client: httpx.AsyncClient) -> WebDAVStorage:
    settings = Settings(owncloud_url=url, owncloud_user="u", owncloud_password="p")  # type: ignore[arg-type]
    return await WebDAVStorage.connect(settings, client, retry=FAST_RETRY)


@pytest.mark.parametrize(
    "canned",
    [XXE, LAUGHS, PLAIN_DOCTYPE],
    indirect=True,
    ids=["xxe", "billion-laughs", "external-dtd"],
)
async def test_hostile_propfind_answer_is_refused(
    canned: CannedServer, client: httpx.AsyncClient
) -> None:
    with pytest.raises(UnsafeXML, match="DOCTYPE"):
        await connect(canned.url + "/dav", client)
    assert all(method != "PUT" for method, _ in canned.requests)


@pytest.mark.parametrize("canned", [OCIS_LISTING], indirect=True)
async def test_props_are_read_per_propstat_and_425_means_not_ready(
    canned: CannedServer, client: httpx.AsyncClient
) -> None:
    storage = await connect(canned.url + "/dav", client)
    entries = {e.name: e for e in await storage.list("/")}
    scan = entries["Scan 001 ä#?.jpg"]
    assert (scan.size, scan.etag, scan.file_id, scan.permissions, scan.ready) == (
        42,
        "e-1",
        "storage$space!node-1",
        "RDNVW",
        True,
    )
    assert scan.mtime == 1658293943.0
    assert entries["processing.jpg"].ready is False


def test_doctype_hidden_after_padding_is_still_refused() -> None:
    padded = b'<?xml version="1.0"?>' + b" " * 10_000 + XXE.split(b"?>", 1)[1]
    with pytest.raises(UnsafeXML):
        safe_fromstring(padded)


def test_utf16_doctype_is_refused() -> None:
    with pytest.raises(UnsafeXML):
        safe_fromstring(
            XXE.replace(b'version="1.0"', b'version="1.0" encoding="utf-16"')
            .decode()
            .encode("utf-16")
        )


def test_malformed_and_foreign_documents_are_storage_errors() -> None:
    with pytest.raises(StorageError):
        parse_multistatus(b"<html><body>login</body></html>")
    with pytest.raises(StorageError):
        parse_multistatus(b"<d:multistatus xmlns:d='DAV:'><d:response>")
