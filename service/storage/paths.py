"""Storage paths: '/'-separated, absolute from the storage root, never escaping it.

Every path that crosses a trust boundary (webhook, API, PROPFIND href, a folder listing)
goes through `normalize`, so `..`, control characters (NUL among them), backslashes and names
longer than any file system keeps are refused in one place, with an `UnsafePath` (HTTP 400).
"""

from __future__ import annotations

import posixpath
import unicodedata

from service.errors import UnsafePath

# ext4, XFS, APFS and NTFS keep 255 bytes per name; Linux refuses paths over 4096 bytes.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
# C0 controls and DEL: no scan is named with them, and they break logs, headers and notes.
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))


def _shown(path: str) -> str:
    """`path` for an error message: quoted, and cut short when it is very long."""
    return repr(path) if len(path) <= 120 else repr(path[:100]) + f"… ({len(path)} characters)"


def normalize(path: str) -> str:
    """Return the canonical form '/a/b' of `path`, or raise UnsafePath."""
    if "\\" in path or not _CONTROL.isdisjoint(path):
        raise UnsafePath(f"path contains a forbidden character: {_shown(path)}")
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:  # a disk name in another encoding, read as lone surrogates
        raise UnsafePath(f"path is not valid UTF-8: {_shown(path)}") from None
    if size > MAX_PATH_BYTES:
        raise UnsafePath(f"path longer than {MAX_PATH_BYTES} bytes: {_shown(path)}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePath(f"path must not contain '..': {_shown(path)}")
    for part in parts:
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise UnsafePath(f"name longer than {MAX_NAME_BYTES} bytes: {_shown(part)}")
    return "/" + "/".join(parts)


def child(folder: str, name: str) -> str:
    """The path of entry `name` listed in `folder`, or UnsafePath when the name is not one
    plain segment (a listing must skip such an entry, never fail on it)."""
    if name in ("", ".", "..") or "/" in name:
        raise UnsafePath(f"not a plain file name: {_shown(name)}")
    return normalize(f"{folder.rstrip('/')}/{name}")


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
