"""The scratch folder of a process: temporary copies of originals, thumbnails' sources, uploads.

It lives under the state folder (`DATA_DIR/.photo-restore/tmp/<host>-<pid>-<token>/`), never in
the system's temp folder: a 48-MP original killed mid-restore used to stay behind in /tmp as a
36 MB file nobody would ever clear. Each process marks its folder with its owner
(`service.lease.Owner`); at start, the folders of owners that are gone are removed, and those
of live processes (other workers sharing DATA_DIR) are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from service.config.settings import Settings
from service.lease import Owner

log = logging.getLogger(__name__)
OWNER_FILE = "owner.json"
FOREIGN_MAX_AGE = 24 * 3600  # a folder whose owner cannot be told (another host) is kept a day


def clear_stale(root: Path) -> int:
    """Remove what processes that are gone left in `root`; how many entries went."""
    removed = 0
    for entry in list(root.iterdir()) if root.is_dir() else []:
        owner = None
        with contextlib.suppress(OSError):
            owner = Owner.decode((entry / OWNER_FILE).read_text(encoding="utf-8"))
        try:
            age = time.time() - entry.stat().st_mtime
        except OSError:
            continue
        if owner is None:  # a stray file, or a folder still being made: give it a minute
            stale = age > 60
        elif owner.here():
            stale = owner.is_gone()
        else:
            stale = age > FOREIGN_MAX_AGE
        if not stale:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def open_scratch(settings: Settings) -> Path:
    """This process's scratch folder, after clearing what dead processes left."""
    root = settings.scratch_dir
    owner = Owner.me(secrets.token_hex(4))
    try:
        root.mkdir(parents=True, exist_ok=True)
        if removed := clear_stale(root):
            log.info(
                "cleared %d temporary folder(s) left by stopped processes in %s", removed, root
            )
        mine = root / f"{owner.host}-{owner.pid}-{owner.token}"
        mine.mkdir()
        (mine / OWNER_FILE).write_text(owner.encode(), encoding="utf-8")
        return mine
    except OSError as exc:
        fallback = Path(tempfile.mkdtemp(prefix="photo-restore-"))
        log.warning("cannot use %s for temporary files (%s); using %s", root, exc, fallback)
        return fallback


def close_scratch(path: Path) -> None:
    """Remove this process's scratch folder (a clean exit leaves nothing)."""
    shutil.rmtree(path, ignore_errors=True)
