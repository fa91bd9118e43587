"""A local folder as Storage: for laptops (`DATA_DIR`) and for tests.

Blocking file calls run in threads so the event loop stays free. Writes go to a
`.restore-<uuid>.tmp` sibling and are renamed into place, like the WebDAV MOVE.

Only the user's files are reachable: a path through a symbolic link is refused (a link in an
inbox could otherwise serve the embedded Redis's dump under `.photo-restore`, or anything on
the machine), and so is the state folder itself. Errors name the storage path, never where
DATA_DIR lies on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from service.constants import STATE_DIR_NAME, TEMP_PREFIX, TEMP_SUFFIX
from service.errors import NotFound, StorageError, UnsafePath
from service.storage.base import Entry
from service.storage.paths import child, normalize

log = logging.getLogger(__name__)
CHUNK = 1 << 20
_MISSING = (errno.ENOENT, errno.ENOTDIR)  # `first.jpg/x`: nothing there, not a server fault


def _os_error(exc: OSError, path: str) -> Exception:
    """The error of our tree for a failed file call, naming the storage path only."""
    if exc.errno in _MISSING:
        return NotFound(f"no such file or folder: {path}")
    if exc.errno == errno.ENAMETOOLONG:
        return UnsafePath(f"name too long for this disk: {path}")
    return StorageError(f"cannot use {path}: {exc.strerror or type(exc).__name__}")


class LocalStorage:
    """Storage over a folder; every path is resolved inside `root` or refused."""

    # Local mtimes (with ctime) tell when a file arrived, so an old file is settled at once.
    mtime_is_arrival = True

    def __init__(self, root: Path, *, private: tuple[str, ...] = (STATE_DIR_NAME,)) -> None:
        self.root = root.resolve()
        self.private = private

    def _real(self, path: str) -> Path:
        rel = normalize(path).lstrip("/")
        if rel.split("/")[0] in self.private:
            raise UnsafePath(f"not one of the user's files: {normalize(path)}")
        real = (self.root / rel) if rel else self.root
        # A link is never followed, neither out of the root nor into the state folder.
        if real.resolve() != real:
            raise UnsafePath(f"path goes through a symbolic link: {normalize(path)}")
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
            except OSError as exc:
                if exc.errno in _MISSING:
                    return None
                raise _os_error(exc, normalize(path)) from None

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
                        out.append(self._entry(child(base, de.name), Path(de.path), de.stat()))
                    except UnsafePath as exc:  # one odd name must not hide the whole folder
                        log.warning("skipping an entry of %s: %s", base, exc)
                    except FileNotFoundError:
                        continue
            return sorted(out, key=lambda e: e.name)

        return await asyncio.to_thread(_list)

    async def iter_bytes(self, path: str) -> AsyncIterator[bytes]:
        """Stream a file in 1 MiB chunks."""
        real = self._real(path)
        try:
            fh = await asyncio.to_thread(_open_no_follow, real)
        except OSError as exc:
            raise _os_error(exc, normalize(path)) from None
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
                with _open_no_follow(real) as src:
                    entry = self._entry(path, real, os.fstat(src.fileno()))
                    with dest.open("wb") as out:
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
            except OSError as exc:
                raise _os_error(exc, normalize(path)) from None
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
                with contextlib.suppress(OSError):
                    tmp.unlink()
                if isinstance(exc, FileExistsError):
                    raise
                raise _os_error(exc, normalize(path)) from None
            return self._entry(path, real)

        return await asyncio.to_thread(_write)

    async def makedirs(self, path: str) -> None:
        """mkdir -p."""
        real = self._real(path)
        try:
            await asyncio.to_thread(real.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(exc, normalize(path)) from None

    async def delete(self, path: str) -> None:
        """Remove a file if present."""
        real = self._real(path)

        def _rm() -> None:
            try:
                real.unlink()
            except OSError as exc:
                if exc.errno not in _MISSING:
                    raise _os_error(exc, normalize(path)) from None

        await asyncio.to_thread(_rm)

    async def check(self) -> str:
        """Make sure the root exists and is writable."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")
        return f"local folder {self.root}"

    async def aclose(self) -> None:
        """Nothing to release."""


def _open_no_follow(real: Path) -> BinaryIO:
    """Open for reading, refusing a link swapped in since `_real` looked (O_NOFOLLOW)."""
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(fd, "rb")
