"""Images for the browser: thumbnails, browser-viewable full-size copies and file responses.

Thumbnails are made from the storage on demand (in a thread) and kept with the previews
(bounded, `jobs.previews`) keyed by path and content version, so a folder of scans is decoded
once, and a changed file gets a new one.
Formats a browser cannot show (TIFF) are converted on the fly for the 1:1 view; downloads are
always the stored bytes. Every decode here passes the same guard as the worker's
(`service.pipeline.guard`: MAX_PIXELS from the header, truncation, odd shapes) and waits for
its share of the process's pixel budget, so opening a folder of big scans cannot exhaust
memory however many pages ask at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from PIL import Image
from starlette.responses import Response, StreamingResponse

from service.errors import InvalidImage, NotFound
from service.jobs.previews import make_preview
from service.pipeline.guard import load_checked, open_checked
from service.runtime.services import Services
from service.storage.paths import name as path_name

THUMB_EDGE = 320
BROWSER_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
OTHER_TYPES = {
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".mp4": "video/mp4",
    ".txt": "text/plain; charset=utf-8",
}
IMMUTABLE = {"cache-control": "private, max-age=3600"}


def _suffix(path: str) -> str:
    return Path(path_name(path)).suffix.lower()


def _open_for_view(local: Path, max_pixels: int, edge: int | None) -> Image.Image:
    """The guarded, not yet decoded image; for a thumbnail (`edge`) JPEGs decode at a reduced
    scale, much faster and smaller (blocking)."""
    im = open_checked(local, max_pixels=max_pixels, still=False)
    if edge is not None:
        try:
            im.draft("RGB", (edge, edge))
        except (OSError, ValueError) as exc:
            im.close()
            raise InvalidImage(f"the image cannot be decoded ({exc})") from None
    return im


async def _decode(
    services: Services, local: Path, convert: Callable[[Image.Image], bytes], edge: int | None
) -> bytes:
    """Guard, wait for the pixel budget, decode and `convert` (in threads)."""
    im = await asyncio.to_thread(_open_for_view, local, services.settings.max_pixels, edge)
    try:
        async with services.decode_budget.take(im.size[0] * im.size[1]):
            return await asyncio.to_thread(lambda: convert(load_checked(im)))
    finally:
        im.close()


async def thumbnail(services: Services, path: str, edge: int = THUMB_EDGE) -> bytes:
    """A JPEG of at most `edge` px on its long side, from the cache or made now."""
    entry = await services.storage.stat(path)
    if entry is None or entry.is_dir:
        raise NotFound(f"no such file: {path}")
    digest = hashlib.sha256(f"{path}\0{entry.version}\0{edge}".encode()).hexdigest()[:32]
    cached = await services.previews.get("thumb:" + digest)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="thumb-", dir=services.scratch) as tmp:
        local = Path(tmp) / "file"
        await services.storage.download(path, local)
        data = await _decode(services, local, lambda im: make_preview(im, edge), edge)
    await services.previews.put("thumb:" + digest, data)
    return data


def jpeg(data: bytes) -> Response:
    """A JPEG response a browser may keep for a while."""
    return Response(data, media_type="image/jpeg", headers=IMMUTABLE)


def png(data: bytes) -> Response:
    """A PNG response a browser may keep for a while."""
    return Response(data, media_type="image/png", headers=IMMUTABLE)


def disposition(kind: str, filename: str) -> str:
    """Content-Disposition with an ASCII fallback and the RFC 5987 UTF-8 name."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def file_response(
    services: Services, path: str, *, download: bool = False, viewable: bool = False
) -> Response:
    """The stored file; `viewable` converts formats a browser cannot show into PNG."""
    entry = await services.storage.stat(path)
    if entry is None or entry.is_dir:
        raise NotFound(f"no such file: {path}")
    suffix = _suffix(path)
    filename = path_name(path)
    if viewable and not download and suffix not in BROWSER_TYPES:
        with tempfile.TemporaryDirectory(prefix="full-", dir=services.scratch) as tmp:
            local = Path(tmp) / "file"
            await services.storage.download(path, local)
            data = await _decode(services, local, _to_png, None)
        return png(data)
    media = BROWSER_TYPES.get(suffix) or OTHER_TYPES.get(suffix) or "application/octet-stream"
    headers = {
        "content-disposition": disposition("attachment" if download else "inline", filename),
        "content-length": str(entry.size),
        **IMMUTABLE,
    }
    stream = services.storage.iter_bytes(path)
    return StreamingResponse(stream, media_type=media, headers=headers)


def _to_png(im: Image.Image) -> bytes:
    """A decoded image as PNG for the browser (blocking)."""
    out = io.BytesIO()
    try:
        (im if im.mode in ("RGB", "RGBA", "L", "LA") else im.convert("RGB")).save(out, "PNG")
    except (OSError, ValueError) as exc:
        raise InvalidImage(f"the image cannot be shown ({exc})") from None
    return out.getvalue()
