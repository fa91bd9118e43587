"""WebDAVStorage: the Storage protocol over ownCloud 10, Nextcloud, oCIS or any WebDAV server.

Paths given to us are storage-relative ('/Family/to-restore/a.jpg'); URLs are built from them
with every segment quoted, and hrefs coming back are split on '/' and decoded per segment, so
names with space, '#', '%', '&', '?' or non-ASCII survive the round trip. Names are compared in
NFC, but the server's own spelling is what we send back: a file uploaded by macOS in NFD is
only reachable under its NFD bytes.

Listing is PROPFIND Depth 0 or 1, never infinity (OC10 answers 412, oCIS 400). Folder entries
keep their etag: the watcher skips a folder whose etag has not changed (ownCloud-family
servers propagate etags upwards, see docs/owncloud.md §2.5).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from service.constants import TEMP_PREFIX, TEMP_SUFFIX
from service.errors import NotFound, StorageError
from service.httpdate import parse_http_date
from service.retry import RetryPolicy
from service.storage.base import Entry
from service.storage.paths import nfc, normalize, parent
from service.storage.webdav import listing, upload
from service.storage.webdav.client import DavClient, error_for, quote_path
from service.storage.webdav.detect import ServerInfo, detect
from service.storage.webdav.xml import DavResponse

CHUNK = 1 << 20


class WebDAVStorage:
    """Storage over WebDAV on one shared, injected `httpx.AsyncClient` (never closed here)."""

    def __init__(
        self, dav: DavClient, info: ServerInfo, chunk_threshold: int = upload.CHUNK_THRESHOLD
    ) -> None:
        self.dav = dav
        self.server_info = info
        self.chunk_threshold = chunk_threshold
        self._root_segments = [nfc(unquote(s)) for s in info.files_root.split("/") if s]

    @property
    def auth(self) -> httpx.Auth | None:
        """The credentials this storage signs in with, for other calls to the same server
        (the change feeds of `service.watch.hosting`)."""
        return self.dav.auth

    @classmethod
    async def connect(
        cls, settings: Any, client: httpx.AsyncClient, *, retry: RetryPolicy | None = None
    ) -> WebDAVStorage:
        """Detect the server and files root, and check that the root answers PROPFIND."""
        if not settings.owncloud_url:
            raise StorageError("OWNCLOUD_URL is not set")
        auth = None
        if settings.owncloud_user:
            secret = settings.owncloud_password
            password = secret.get_secret_value() if secret is not None else ""
            auth = httpx.BasicAuth(settings.owncloud_user, password)
        dav = DavClient(client, settings.owncloud_url, auth, retry)
        info = await detect(dav, settings.owncloud_user, settings.owncloud_dav_path)
        storage = cls(dav, info)
        if await storage._propfind("/", depth=0) is None:
            raise StorageError(
                f"the WebDAV root {info.files_root} does not exist "
                "(check OWNCLOUD_DAV_PATH / OWNCLOUD_USER)"
            )
        return storage

    # -- paths ----------------------------------------------------------------------------

    def _url(self, path: str, *, folder: bool = False) -> str:
        rel = normalize(path).lstrip("/")
        server_path = self.server_info.files_root + quote_path(rel)
        if folder and rel:
            server_path += "/"
        return self.dav.url(server_path)

    def _entry(self, item: DavResponse, path: str) -> Entry:
        is_dir = item.is_collection
        return Entry(
            path=path,
            is_dir=is_dir,
            size=0 if is_dir else item.size,
            mtime=item.mtime,
            etag=item.etag,
            file_id=item.text("{http://owncloud.org/ns}fileid"),
            content_type=item.text("{DAV:}getcontenttype"),
            permissions=item.text("{http://owncloud.org/ns}permissions"),
            ready=not item.too_early,
        )

    # -- listing --------------------------------------------------------------------------

    async def _propfind(self, path: str, depth: int) -> list[tuple[str, DavResponse]] | None:
        """(storage path, response) pairs, or None on 404. Depth is 0 or 1, never infinity."""
        what = f"PROPFIND {path}"
        url = self._url(path, folder=depth == 1)
        data = await listing.propfind(self.dav, url, what=what, depth=depth)
        return None if data is None else listing.entries(data, self._root_segments, what)

    async def _resolve(self, path: str) -> str | None:
        """The server's spelling of `path` when it differs only in Unicode form (NFC/NFD)."""
        path = normalize(path)
        if path == "/":
            return None
        folder = parent(path)
        if folder != "/":
            real_folder = await self._resolve_existing(folder)
            if real_folder is None:
                return None
            folder = real_folder
        want = nfc(path.rsplit("/", 1)[1])
        listing = await self._propfind(folder, depth=1)
        for rel, _item in listing or []:
            if rel != folder and nfc(rel.rsplit("/", 1)[-1]) == want:
                return rel
        return None

    async def _resolve_existing(self, path: str) -> str | None:
        if await self._propfind(path, depth=0) is not None:
            return path
        return await self._resolve(path)

    async def stat(self, path: str) -> Entry | None:
        """The entry at `path` (one PROPFIND Depth 0), or None when nothing is there."""
        found = await self._propfind(path, depth=0)
        if found is None:
            real = await self._resolve(path)
            if real is None:
                return None
            found = await self._propfind(real, depth=0)
        if not found:
            return None
        rel, item = found[0]
        return self._entry(item, rel)

    async def list(self, path: str) -> list[Entry]:
        """Direct children of a folder (PROPFIND Depth 1), folders with their etags."""
        base = normalize(path)
        found = await self._propfind(base, depth=1)
        if found is None:
            real = await self._resolve(base)
            found = await self._propfind(real, depth=1) if real else None
            if found is None:
                raise NotFound(f"no such folder: {base}")
            base = real or base
        entries = []
        for rel, item in found:
            if nfc(rel) == nfc(base):
                if not item.is_collection:
                    raise NotFound(f"not a folder: {base}")
                continue  # the folder itself comes first in the answer
            entries.append(self._entry(item, rel))
        return sorted(entries, key=lambda e: e.name)

    # -- reading --------------------------------------------------------------------------

    async def iter_bytes(self, path: str) -> AsyncIterator[bytes]:
        """Stream a file; a broken connection before the first chunk is retried."""
        async with self.dav.stream(
            "GET", self._url(path), what=f"GET {path}", ok=lambda r: r.status_code == 200
        ) as resp:
            async for chunk in resp.aiter_bytes(CHUNK):
                yield chunk

    async def download(self, path: str, dest: Path) -> Entry:
        """Stream the file into `dest` via a temp sibling; resume with Range after a drop."""
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.download")
        fh = await asyncio.to_thread(tmp.open, "wb")
        state: dict[str, Any] = {"written": 0, "etag": None, "headers": None}
        try:
            await self.dav.retrying(f"GET {path}", lambda: self._get_into(path, fh, state))
            await asyncio.to_thread(fh.close)
            await asyncio.to_thread(os.replace, tmp, dest)
        except BaseException:
            fh.close()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        headers: httpx.Headers = state["headers"]
        return Entry(
            path=normalize(path),
            is_dir=False,
            size=state["written"],
            mtime=parse_http_date(headers.get("Last-Modified")) or 0.0,
            etag=(headers.get("ETag") or "").removeprefix("W/").strip('"') or None,
            file_id=headers.get("OC-FileId"),
            content_type=headers.get("Content-Type"),
        )

    async def _get_into(self, path: str, fh: Any, state: dict[str, Any]) -> None:
        headers = {}
        if state["written"] and state["etag"]:
            # Resume only the same version: If-Range makes a changed file come back whole.
            headers = {"Range": f"bytes={state['written']}-", "If-Range": state["etag"]}
        async with self.dav.stream(
            "GET",
            self._url(path),
            what=f"GET {path}",
            headers=headers,
            ok=lambda r: r.status_code in (200, 206),
        ) as resp:
            if resp.status_code == 200 and state["written"]:
                await asyncio.to_thread(fh.seek, 0)
                await asyncio.to_thread(fh.truncate)
                state["written"] = 0
            state["headers"] = resp.headers
            state["etag"] = resp.headers.get("ETag")
            expected = resp.headers.get("Content-Length")
            got = 0
            # Disk writes run in a thread *while* the next chunks arrive (a small queue between
            # the two), so the socket is never idle waiting for the disk.
            queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)

            async def writer() -> None:
                while (block := await queue.get()) is not None:
                    await asyncio.to_thread(fh.write, block)
                    state["written"] += len(block)

            task = asyncio.create_task(writer())
            pending: list[bytes] = []
            size = 0
            try:
                async for chunk in resp.aiter_raw():
                    pending.append(chunk)
                    size += len(chunk)
                    got += len(chunk)
                    if size >= CHUNK:
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
            if expected is not None and expected.isdigit() and got != int(expected):
                raise httpx.ReadError(f"body ended after {got} of {expected} bytes")

    # -- writing --------------------------------------------------------------------------

    async def write_atomic(
        self, path: str, source: Path | bytes, *, overwrite: bool = True, mtime: float | None = None
    ) -> Entry:
        """PUT to `.restore-<uuid>.tmp` beside the target, then MOVE it into place.

        With `overwrite=False` the MOVE carries `Overwrite: F`; the server answers 412 when
        the target exists and we raise FileExistsError (no If-None-Match: oCIS ignores it).
        """
        target = normalize(path)
        folder = parent(target)
        tmp = f"{folder.rstrip('/')}/{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}"
        size = len(source) if isinstance(source, bytes) else os.stat(source).st_size
        try:
            await self._put(tmp, source, size, mtime)
            await self._move(tmp, target, overwrite=overwrite, size=size)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.delete(tmp)
            raise
        entry = await self.stat(target)
        if entry is None:
            raise StorageError(f"{target} missing right after it was written")
        return entry

    async def _put(self, path: str, source: Path | bytes, size: int, mtime: float | None) -> None:
        headers = {"Content-Length": str(size)}
        if mtime is not None and mtime > 86400:  # NC refuses values <= 1 day as bogus
            headers["X-OC-Mtime"] = str(int(mtime))
        if size > self.chunk_threshold and upload.can_chunk(self.server_info):
            await upload.chunked(self.dav, self.server_info, self._url(path), source, size, headers)
            return
        body = _body(source)
        resp = await self.dav.call(
            "PUT",
            self._url(path),
            what=f"PUT {path}",
            headers=headers,
            content=body,
            ok=lambda r: r.is_success or r.status_code == 409,
            http_timeout=upload.LONG_TIMEOUT,
        )
        if resp.status_code == 409:  # the parent folder is missing: create it once, try again
            await self.makedirs(parent(path))
            await self.dav.call(
                "PUT",
                self._url(path),
                what=f"PUT {path}",
                headers=headers,
                content=body,
                http_timeout=upload.LONG_TIMEOUT,
            )

    async def _move(self, src: str, dst: str, *, overwrite: bool, size: int) -> None:
        resp = await self.dav.call(
            "MOVE",
            self._url(src),
            what=f"MOVE {src} → {dst}",
            headers={"Destination": self._url(dst), "Overwrite": "T" if overwrite else "F"},
            ok=lambda r: r.is_success or r.status_code in (404, 412),
            http_timeout=upload.LONG_TIMEOUT,
        )
        if resp.status_code == 412:
            raise FileExistsError(f"{dst} exists and overwrite=False")
        if resp.status_code == 404:
            # A retried MOVE whose first answer was lost: the source is gone because it moved.
            done = await self.stat(dst)
            if done is None or done.size != size:
                raise NotFound(f"MOVE {src}: the uploaded temp file vanished")

    async def makedirs(self, path: str) -> None:
        """MKCOL the folder, creating missing parents on 409; 405 means it exists."""
        path = normalize(path)
        if path == "/":
            return
        if await self._mkcol(path, parent_may_miss=True) == 409:
            await self.makedirs(parent(path))
            await self._mkcol(path, parent_may_miss=False)

    async def _mkcol(self, path: str, *, parent_may_miss: bool) -> int:
        """One MKCOL; 405 (it exists) is success, 409 (no parent) is returned when allowed.

        Two workers creating the same folder at once race: Apache answers the loser 403, so a
        403 for a folder that exists by now is success too.
        """
        what = f"MKCOL {path}"
        accepted = (403, 405, 409) if parent_may_miss else (403, 405)
        resp = await self.dav.call(
            "MKCOL",
            self._url(path, folder=True),
            what=what,
            ok=lambda r: r.is_success or r.status_code in accepted,
        )
        if resp.status_code == 403:
            entry = await self.stat(path)
            if entry is None or not entry.is_dir:
                raise error_for(resp, what)
        return resp.status_code

    async def delete(self, path: str) -> None:
        """DELETE a file; a missing one is fine (on OC/NC/oCIS it goes to the trash bin)."""
        await self.dav.call(
            "DELETE",
            self._url(path),
            what=f"DELETE {path}",
            ok=lambda r: r.is_success or r.status_code == 404,
        )

    async def check(self) -> str:
        """One PROPFIND Depth 0 of the root; the server's description."""
        if await self._propfind("/", depth=0) is None:
            raise NotFound(f"WebDAV root {self.server_info.files_root} not found")
        return self.server_info.describe()

    async def aclose(self) -> None:
        """Nothing to release: the shared client belongs to the lifespan that made it."""


def _body(source: Path | bytes) -> bytes | Callable[[], AsyncIterator[bytes]]:
    """Bytes as they are; a file as a factory of a fresh stream (one per try)."""
    if isinstance(source, bytes):
        return source
    return lambda: upload.file_chunks(source, 0, None)
