"""A job's clip for the browser: a local copy served with Range support, so `<video>` can seek.

Browsers fetch a video in ranges (the index, then the part being played) and would refetch it
on every seek; asking ownCloud for the whole file each time is slow, and not every WebDAV
server honours Range. So the clip is copied once into `STATE_DIR/clip-view`, named by its path
and content version (a replaced clip gets a new copy), and served from there by Starlette's
`FileResponse`, which answers Range requests (206) itself. The copies are a bounded cache:
past `VIEW_MAX_BYTES` the least recently served go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
import uuid
from pathlib import Path

from starlette.responses import FileResponse, Response

from service.constants import CLIP_MAX_BYTES
from service.errors import NotFound
from service.queue import JobRecord
from service.runtime.services import Services
from service.storage.paths import name as path_name
from service.web.images import disposition

VIEW_MAX_BYTES = 512 * 1024 * 1024
VIEW_FOLDER = "clip-view"


def _folder(services: Services) -> Path:
    return Path(services.settings.state_dir) / VIEW_FOLDER


def _evict(folder: Path, keep: Path, budget: int) -> None:
    """Drop the least recently served copies until the folder fits `budget` (blocking)."""
    copies = []
    for path in folder.glob("*.mp4"):
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            copies.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in copies)
    for _, size, path in sorted(copies):
        if total <= budget:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= size


async def local_copy(services: Services, path: str) -> Path:
    """The clip at `path` as a local file, copied from the storage when not there yet."""
    entry = await services.storage.stat(path)
    if entry is None or entry.is_dir:
        raise NotFound("the clip is gone from the storage")
    if entry.size > CLIP_MAX_BYTES:
        raise NotFound("the file where the clip was is no clip any more (too large)")
    digest = hashlib.sha256(f"{path}\0{entry.version}".encode()).hexdigest()[:32]
    folder = _folder(services)
    target = folder / f"{digest}.mp4"
    if await asyncio.to_thread(target.exists):
        now = time.time()
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.utime, target, (now, now))  # the LRU clock
        return target
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    part = folder / f".{digest}.{uuid.uuid4().hex[:8]}.part"
    try:
        await services.storage.download(path, part)
        await asyncio.to_thread(os.replace, part, target)
    finally:
        await asyncio.to_thread(part.unlink, missing_ok=True)
    await asyncio.to_thread(_evict, folder, target, VIEW_MAX_BYTES)
    return target


async def clip_response(services: Services, record: JobRecord, *, download: bool) -> Response:
    """The job's clip as `video/mp4`, ranges answered; an attachment with `download`."""
    if record.clip is None or record.status != "done" or record.decision == "rejected":
        raise NotFound("no clip for this job")
    local = await local_copy(services, record.clip)
    headers = {
        "content-disposition": disposition(
            "attachment" if download else "inline", path_name(record.clip)
        ),
        "cache-control": "private, max-age=3600",
    }
    return FileResponse(local, media_type="video/mp4", headers=headers)
