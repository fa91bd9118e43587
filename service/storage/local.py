"""A local folder as Storage: for laptops (`DATA_DIR`) and for tests.

Blocking file calls run in threads so the event loop stays free. Writes go to a
`.restore-<uuid>.tmp` sibling and are renamed into place, like the WebDAV MOVE. A full disk
is `DiskFull` (it passes), never a `StorageError` (for good).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from service.constants import TEMP_PREFIX, TEMP_SUFFIX
from service.errors import NotFound, StorageError, UnsafePath, from_os
from service.storage.base import Entry
from service.storage.paths import normalize

CHUNK = 1 << 20


class LocalStorage:
    """Storage over a folder; every path is resolved inside `root` or refused."""

    # Local mtimes (with ctime) tell when a file arrived, so an old file is settled at once.
    mtime_is_arrival = True

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _real(self, path: str) -> Path:
        rel = normalize(path).lstrip("/")
        real = (self.root / rel) if rel else self.root
        # A symlink inside the root must not lead outside it.
        resolved = real.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise UnsafePath(f"path leaves the storage root: {path!r}")
        return real

    def _entry(self, path: str, real: Path, st: os.stat_result | None = None) -> Entry:
        st = st or real.stat()
        is_dir = real.is_dir()
        # A cheap etag for files: size + mtime in ns. Local folders give none (their mtime does not
        # change when something deep below changes), so the watcher always looks inside.
        etag = (
            None
            if is_dir
            else hashlib.sha1(  # noqa: S324 - not security, a change marker
                f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode()
            ).hexdigest()[:16]
        )
        return Entry(
            path=normalize(path),
            is_dir=is_dir,
            size=0 if is_dir else st.st_size,
            mtime=max(st.st_mtime, st.st_ctime),
            etag=etag,
            file_id=None,
        )

    async def stat(self, path: str) -> Entry | None:
        """The entry at `path`, or None."""
        real = self._real(path)

        def _stat() -> Entry | None:
            try:
                return self._entry(path, real)
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(_stat)

    async def list(self, path: str) -> list[Entry]:
        """Children of a folder, sorted by name."""
        real = self._real(path)
        base = normalize(path)

        def _list() -> list[Entry]:
            if not real.is_dir():
                raise NotFound(f"no such folder: {base}")
            out = []
            with os.scandir(real) as it:
                for de in it:
                    if de.is_symlink():
                        continue  # never follow links out of the user's space
                    try:
                        out.append(
                            self._entry(f"{base.rstrip('/')}/{de.name}", Path(de.path), de.stat())
                        )
                    except FileNotFoundError:
                        continue
            return sorted(out, key=lambda e: e.name)

        return await asyncio.to_thread(_list)

    async def iter_bytes(self, path: str) -> AsyncIterator[bytes]:
        """Stream a file in 1 MiB chunks."""
        real = self._real(path)
        try:
            fh = await asyncio.to_thread(real.open, "rb")
        except FileNotFoundError:
            raise NotFound(f"no such file: {path}") from None
        try:
            while chunk := await asyncio.to_thread(fh.read, CHUNK):
                yield chunk
        finally:
            fh.close()

    async def download(self, path: str, dest: Path) -> Entry:
        """Copy the file to `dest` in a thread."""
        real = self._real(path)

        def _copy() -> Entry:
            try:
                entry = self._entry(path, real)
                with real.open("rb") as src, dest.open("wb") as out:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
            except FileNotFoundError:
                raise NotFound(f"no such file: {path}") from None
            except OSError as exc:
                raise from_os(exc) or exc from exc
            return entry

        return await asyncio.to_thread(_copy)

    async def write_atomic(
        self, path: str, source: Path | bytes, *, overwrite: bool = True, mtime: float | None = None
    ) -> Entry:
        """Write to a temp sibling then rename; `overwrite=False` refuses an existing target."""
        real = self._real(path)

        def _write() -> Entry:
            real.parent.mkdir(parents=True, exist_ok=True)
            tmp = real.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}")
            try:
                with tmp.open("wb") as out:
                    if isinstance(source, bytes):
                        out.write(source)
                    else:
                        with source.open("rb") as src:
                            while chunk := src.read(CHUNK):
                                out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if mtime is not None:
                    os.utime(tmp, (mtime, mtime))
                if overwrite:
                    os.replace(tmp, real)
                else:
                    os.link(tmp, real)  # fails with FileExistsError, atomically
                    tmp.unlink()
            except OSError as exc:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                if isinstance(exc, FileExistsError):
                    raise
                # A full disk passes (the job waits for space); anything else is for good.
                raise from_os(exc) or StorageError(
                    f"cannot write {path}: {exc.strerror or exc}"
                ) from exc
            return self._entry(path, real)

        return await asyncio.to_thread(_write)

    async def makedirs(self, path: str) -> None:
        """mkdir -p."""
        real = self._real(path)
        try:
            await asyncio.to_thread(real.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise from_os(exc) or exc from exc

    async def delete(self, path: str) -> None:
        """Remove a file if present."""
        real = self._real(path)

        def _rm() -> None:
            with contextlib.suppress(FileNotFoundError):
                real.unlink()

        await asyncio.to_thread(_rm)

    async def check(self) -> str:
        """Make sure the root exists and is writable."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")
        return f"local folder {self.root}"

    async def aclose(self) -> None:
        """Nothing to release."""
