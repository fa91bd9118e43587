"""The Storage protocol: what the watcher and the restore task need from where photos live.

Two implementations fit it: `LocalStorage` (a folder, for laptops and tests) and
`WebDAVStorage` (ownCloud 10, Nextcloud, oCIS). Paths are storage-relative, '/'-separated
and normalized by `service.storage.paths.normalize`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Entry:
    """One file or folder as the storage reports it.

    `etag` changes whenever the content (or, for folders, anything below) changes, where the
    server propagates it; `file_id` survives renames. `ready` is False while the server still
    processes an upload (oCIS answers 425 then).
    """

    path: str
    is_dir: bool
    size: int = 0
    mtime: float = 0.0
    etag: str | None = None
    file_id: str | None = None
    content_type: str | None = None
    permissions: str | None = None
    ready: bool = True

    @property
    def name(self) -> str:
        """The last path segment."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def version(self) -> str:
        """A content version: the etag when there is one, else size and mtime."""
        return self.etag or f"{self.size}-{int(self.mtime * 1000)}"

    @property
    def identity(self) -> str:
        """What names this file across renames where the server can tell, else its path."""
        return self.file_id or self.path


@runtime_checkable
class Storage(Protocol):
    """Async access to the user's files. Implementations raise the errors of `service.errors`."""

    async def stat(self, path: str) -> Entry | None:
        """The entry at `path`, or None when nothing is there."""
        ...

    async def list(self, path: str) -> list[Entry]:
        """The direct children of the folder at `path` (Depth 1; never recursive)."""
        ...

    def iter_bytes(self, path: str) -> AsyncIterator[bytes]:
        """Stream the file's content in chunks."""
        ...

    async def download(self, path: str, dest: Path) -> Entry:
        """Stream the file at `path` into the local file `dest`; returns the entry read."""
        ...

    async def write_atomic(
        self, path: str, source: Path | bytes, *, overwrite: bool = True, mtime: float | None = None
    ) -> Entry:
        """Write a file so readers see the old content or the whole new one, never a part.

        With `overwrite=False` an existing file is left alone and FileExistsError is raised.
        """
        ...

    async def makedirs(self, path: str) -> None:
        """Create the folder and its missing parents; existing folders are fine."""
        ...

    async def delete(self, path: str) -> None:
        """Remove a file; a missing file is fine."""
        ...

    async def check(self) -> str:
        """Reach the storage once; return a one-line description or raise."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
