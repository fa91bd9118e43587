"""Big uploads: each server's own chunking protocol; small ones are a plain PUT.

Who gets what (the size is the temp file's, before the MOVE into place):

    any server, size <= CHUNK_THRESHOLD (64 MiB)  → one PUT with Content-Length
    Nextcloud / ownCloud 10 (`dav.chunking` 1.0)  → chunking v2/NG (dav/uploads/<user>/)
    oCIS (`files.tus_support`)                     → TUS 1.0.0 creation + PATCH
    plain WebDAV servers                           → one PUT whatever the size

Why 64 MiB: below it one PUT is fastest everywhere and fits the usual reverse-proxy body
limits; above it a reverse proxy's timeout or body cap (nginx `client_max_body_size`, a CDN's
100 MB) becomes likely, and a dropped chunk costs 10 MiB, not the whole file. Restored photos
rarely exceed it; the chunked paths follow docs/owncloud.md §3.3 and are tested against a front
that speaks each protocol as Nextcloud's and tusd/reva's code do (tests/storage/webdav/
chunking_server.py), not a live Nextcloud/oCIS (none in CI).
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from service.errors import StorageError
from service.storage.webdav.client import DavClient, quote_path
from service.storage.webdav.detect import NEXTCLOUD, OCIS, OWNCLOUD10, ServerInfo

CHUNK_THRESHOLD = 64 << 20
CHUNK_SIZE = 10 << 20  # NC wants 5 MiB..5 GiB per chunk; rclone and oCIS use 10 MiB
READ_SIZE = 1 << 20
# Assembling a big file (the final MOVE) can take minutes on PHP servers (NC #17992).
LONG_TIMEOUT = httpx.Timeout(30.0, read=600.0, write=600.0)
TUS = {"Tus-Resumable": "1.0.0"}
MAX_OFFSET_CONFLICTS = 3  # 409s in a row before a TUS upload is given up as inconsistent


def can_chunk(info: ServerInfo) -> bool:
    """True when the server speaks a chunked protocol we implement."""
    if info.kind == OCIS:
        return info.tus
    return info.kind in (NEXTCLOUD, OWNCLOUD10) and bool(info.chunking) and bool(info.user_id)


async def file_chunks(path: Path, start: int, length: int | None) -> AsyncIterator[bytes]:
    """Read `length` bytes of `path` from `start` (to the end when None) in 1 MiB pieces."""
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(fh.seek, start)
        left = length
        while left is None or left > 0:
            want = READ_SIZE if left is None else min(READ_SIZE, left)
            data = await asyncio.to_thread(fh.read, want)
            if not data:
                break
            if left is not None:
                left -= len(data)
            yield data
    finally:
        fh.close()


def _part(
    source: Path | bytes, start: int, length: int
) -> bytes | Callable[[], AsyncIterator[bytes]]:
    if isinstance(source, bytes):
        return source[start : start + length]
    return lambda: file_chunks(source, start, length)


async def chunked(
    dav: DavClient,
    info: ServerInfo,
    target_url: str,
    source: Path | bytes,
    size: int,
    headers: Mapping[str, str],
) -> None:
    """Upload `source` to `target_url` with the server's own chunking protocol."""
    if info.kind == OCIS:
        await _tus(dav, info, target_url, source, size, headers)
    else:
        await _nextcloud_v2(dav, info, target_url, source, size, headers)


async def _nextcloud_v2(
    dav: DavClient,
    info: ServerInfo,
    target_url: str,
    source: Path | bytes,
    size: int,
    headers: Mapping[str, str],
) -> None:
    """NC chunking v2 (also accepted by OC10's NG: it ignores the extra Destination headers)."""
    prefix = urlsplit(dav.base_url).path.rstrip("/")
    folder = dav.url(
        f"{prefix}/remote.php/dav/uploads/{quote_path(info.user_id or '')}/"
        f"photo-restore-{uuid.uuid4().hex}"
    )
    common = {"Destination": target_url, "OC-Total-Length": str(size)}
    await dav.call("MKCOL", folder, what="MKCOL upload folder", headers=common)
    try:
        for index, start in enumerate(range(0, size, CHUNK_SIZE), start=1):
            length = min(CHUNK_SIZE, size - start)
            await dav.call(
                "PUT",
                f"{folder}/{index:05d}",
                what=f"PUT chunk {index}",
                headers={**common, "Content-Length": str(length)},
                content=_part(source, start, length),
                http_timeout=LONG_TIMEOUT,
            )
        mtime = {k: v for k, v in headers.items() if k == "X-OC-Mtime"}
        await dav.call(
            "MOVE",
            f"{folder}/.file",
            what="MOVE assembled upload",
            headers={**common, **mtime, "Overwrite": "T"},
            http_timeout=LONG_TIMEOUT,
        )
    except BaseException:
        # Abort: the server would expire the folder after 24 h anyway, but free it now.
        await dav.call(
            "DELETE", folder, what="DELETE upload folder", ok=lambda r: r.status_code < 500
        )
        raise


async def _tus(
    dav: DavClient,
    info: ServerInfo,
    target_url: str,
    source: Path | bytes,
    size: int,
    headers: Mapping[str, str],
) -> None:
    """oCIS TUS 1.0.0: POST to the parent collection, then PATCH the pieces in order."""
    location = await _tus_create(dav, target_url, size, headers)
    step = min(CHUNK_SIZE, info.tus_max_chunk or CHUNK_SIZE)
    offset, conflicts = 0, 0
    while offset < size:
        length = min(step, size - offset)
        resp = await dav.call(
            "PATCH",
            location,
            what="TUS patch",
            headers={
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),
            },
            content=_part(source, offset, length),
            ok=lambda r: r.is_success or r.status_code == 409,
            http_timeout=LONG_TIMEOUT,
        )
        if resp.status_code == 409:
            # The server kept part of a PATCH whose answer we lost (a proxy timeout, a dropped
            # connection): it is ahead of us. Ask where it stands and go on from there.
            conflicts += 1
            if conflicts > MAX_OFFSET_CONFLICTS:
                raise StorageError(f"TUS patch: the server keeps refusing offset {offset}")
            offset = await _tus_offset(dav, location)
            continue
        conflicts = 0
        new = resp.headers.get("Upload-Offset")
        offset = int(new) if new and new.isdigit() else offset + length


async def _tus_create(
    dav: DavClient, target_url: str, size: int, headers: Mapping[str, str]
) -> str:
    """Create the upload on the target's parent collection; its absolute Location."""
    collection, _, name = target_url.rpartition("/")
    meta = [f"filename {base64.b64encode(unquote(name).encode()).decode()}"]
    if "X-OC-Mtime" in headers:
        meta.append(f"mtime {base64.b64encode(headers['X-OC-Mtime'].encode()).decode()}")
    resp = await dav.call(
        "POST",
        collection + "/",
        what="TUS create",
        headers={
            **TUS,
            "Upload-Length": str(size),
            "Upload-Metadata": ",".join(meta),
            "Content-Length": "0",
        },
    )
    location: str | None = resp.headers.get("Location")
    if not location:
        raise StorageError("TUS create: the server gave no upload Location")
    return same_origin(dav, urljoin(collection + "/", location), "TUS create")


def same_origin(dav: DavClient, url: str, what: str) -> str:
    """`url` when it is on the server we signed in to; our Basic credentials and the photo
    never follow a Location to another host, scheme or port."""
    try:
        same = _origin(url) == _origin(dav.origin)
    except ValueError:  # a port that is no number
        same = False
    if not same:
        host = urlsplit(url).hostname
        raise StorageError(f"{what}: the server sent the upload to another host ({host})")
    return url


def _origin(url: str) -> tuple[str, str | None, int | None]:
    split = urlsplit(url)
    default = {"http": 80, "https": 443}.get(split.scheme.lower())
    return split.scheme.lower(), split.hostname, split.port or default


async def _tus_offset(dav: DavClient, location: str) -> int:
    """How many bytes of the upload the server holds (HEAD)."""
    resp = await dav.call("HEAD", location, what="TUS offset", headers=TUS)
    value = resp.headers.get("Upload-Offset", "")
    if not value.isdigit():
        raise StorageError("TUS offset: the server gave no Upload-Offset")
    return int(value)
