"""Storage paths: '/'-separated, absolute from the storage root, never escaping it.

Every path that crosses a trust boundary (webhook, API, PROPFIND href) goes through
`normalize`, so `..`, NUL bytes and backslashes are refused in one place.
"""

from __future__ import annotations

import posixpath
import unicodedata

from service.errors import UnsafePath


def normalize(path: str) -> str:
    """Return the canonical form '/a/b' of `path`, or raise UnsafePath."""
    if "\x00" in path or "\\" in path:
        raise UnsafePath(f"path contains a forbidden character: {path!r}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePath(f"path must not contain '..': {path!r}")
    return "/" + "/".join(parts)


def join(base: str, *names: str) -> str:
    """Join a normalized base and child names, refusing names that contain '/' or '..'."""
    for name in names:
        if name in ("", ".", "..") or "/" in name:
            raise UnsafePath(f"not a single path segment: {name!r}")
    return normalize("/".join((base, *names)))


def parent(path: str) -> str:
    """The parent folder of a normalized path ('/' for top-level entries)."""
    return posixpath.dirname(path.rstrip("/")) or "/"


def name(path: str) -> str:
    """The last segment of a path."""
    return posixpath.basename(path.rstrip("/"))


def nfc(text: str) -> str:
    """NFC form, for comparing names: macOS clients upload NFD, servers store bytes as sent."""
    return unicodedata.normalize("NFC", text)


def is_within(path: str, folder: str) -> bool:
    """True when `path` is `folder` or inside it (both normalized)."""
    folder = folder.rstrip("/")
    return folder == "" or path == folder or path.startswith(folder + "/")
