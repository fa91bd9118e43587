"""The decode guard: every picture is judged from its header before a pixel is decoded.

One guard for every decode the service does on a file it was given — the worker's
(`imageio.decode`), the dashboard's thumbnails, previews and full-size views — so a file
that someone drops into a folder cannot cost more memory in one place than in another.
`open_checked` refuses, each with an `InvalidImage` a person understands:

- more pixels than MAX_PIXELS (from the header; Pillow's own bomb limit is raised to match,
  never left below it, so Pillow cannot refuse earlier or warn into a process-wide filter);
- degenerate shapes (under `MIN_EDGE` px on a side, or longer than `MAX_ASPECT`:1);
- for a restoration (`still=True`), animations and multi-page TIFFs: only one still picture
  is restored, never silently its first frame (reduced-resolution preview pages of a TIFF and
  the primary picture of a camera's MPO are fine);
- JPEG data that ends before the picture does: libjpeg fills the rest with grey and calls it
  a warning ("premature end"); a strict scaled-down decode (simplejpeg) notices.

An embedded ICC profile that is too large or not a profile at all is dropped (and logged):
the pixels are fine, the profile would only be copied into the result. `load_checked` then
decodes, with Pillow's errors turned into the same kind of message. No message names a file
path: they reach the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import mmap
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import simplejpeg
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from service.errors import InvalidImage

log = logging.getLogger(__name__)
MIN_EDGE = 16  # below this a picture has nothing to restore (and some operations divide by 0)
MAX_ASPECT = 100  # a film strip is 1:10; 1:100000 is an attack on every per-row operation
MAX_ICC_BYTES = 4 << 20  # printer profiles with big tables reach 2–3 MB; sRGB is 3 KB
MAX_TIFF_PAGES = 8  # pages looked at for "is every page after the first a preview?"
_REDUCED_RESOLUTION = 1  # TIFF NewSubfileType bit 0: a smaller version of another page
_NEW_SUBFILE_TYPE = 254


def align_pillow(max_pixels: int) -> None:
    """Raise Pillow's process-wide bomb limit to at least `max_pixels` (never lower it): our
    own check, from the header, is the one that refuses."""
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and current < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


@contextlib.contextmanager
def pillow_errors() -> Iterator[None]:
    """Pillow's many ways of failing, as one InvalidImage with a reason and no path."""
    try:
        yield
    except InvalidImage:
        raise
    except UnidentifiedImageError:
        raise InvalidImage("not an image file Pillow can read (JPEG, PNG, TIFF, WebP…)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's limit is never below ours (`align_pillow`): past it is past MAX_PIXELS.
        raise InvalidImage(
            "refusing a possible decompression bomb: more pixels than the limit "
            "(setting MAX_PIXELS)"
        ) from None
    except OSError as exc:
        text = str(exc.strerror or exc)
        if "truncated" in text or "broken data stream" in text or "image file is" in text:
            raise InvalidImage(f"the file is truncated or damaged ({text})") from None
        raise InvalidImage(f"the image cannot be decoded ({text})") from None
    except (SyntaxError, ValueError, struct.error, EOFError, MemoryError) as exc:
        raise InvalidImage(f"the image cannot be decoded ({type(exc).__name__}: {exc})") from None


def check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse more than `max_pixels`, before a single pixel is allocated."""
    w, h = size
    if w * h > max_pixels:
        raise InvalidImage(
            f"the image is {w}×{h} = {w * h / 1e6:.1f} megapixels, over the limit of "
            f"{max_pixels / 1e6:.1f} (setting MAX_PIXELS); refusing a possible decompression bomb"
        )


def check_shape(size: tuple[int, int]) -> None:
    """Refuse slivers and specks: nothing to restore, and trouble for every operation."""
    w, h = size
    if min(w, h) < MIN_EDGE:
        raise InvalidImage(f"the image is {w}×{h}: under {MIN_EDGE} pixels on a side")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise InvalidImage(f"the image is {w}×{h}: longer than {MAX_ASPECT}:1, not a photo")


def _tiff_pages_are_previews(im: Image.Image) -> bool:
    """True when every page after the first is a reduced-resolution version (a preview)."""
    try:
        for index in range(1, MAX_TIFF_PAGES + 1):
            try:
                im.seek(index)
            except EOFError:
                return True
            kind = im.tag_v2.get(_NEW_SUBFILE_TYPE, 0)  # type: ignore[attr-defined]
            if not isinstance(kind, int) or not kind & _REDUCED_RESOLUTION:
                return False
        return False  # more pages than we look at: not a single picture with previews
    finally:
        im.seek(0)


def check_still(im: Image.Image) -> None:
    """Refuse animations and multi-page files: restoring only the first frame would lose the
    rest without a word."""
    if not getattr(im, "is_animated", False) or im.format == "MPO":
        return  # MPO: a camera's JPEG with previews; its first picture is the photo
    if im.format == "TIFF":
        if _tiff_pages_are_previews(im):
            return
        raise InvalidImage(
            "a TIFF with several pages: only single pictures are restored "
            "(save each page as its own file)"
        )
    frames = "" if im.format == "GIF" else f" ({getattr(im, 'n_frames', 2)} frames)"
    raise InvalidImage(
        f"an animated {im.format or 'image'}{frames}: only still pictures are restored"
    )


def check_icc(im: Image.Image) -> None:
    """Drop an embedded colour profile that is oversized or not a profile at all."""
    icc = im.info.get("icc_profile")
    if not icc:
        return
    reason = None
    if not isinstance(icc, bytes) or len(icc) > MAX_ICC_BYTES:
        reason = f"{len(icc) if isinstance(icc, bytes) else '?'} bytes, over {MAX_ICC_BYTES}"
    else:
        try:
            ImageCms.ImageCmsProfile(io.BytesIO(icc))
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            reason = "not a valid ICC profile"
    if reason is not None:
        log.warning("dropping the picture's embedded colour profile: %s", reason)
        del im.info["icc_profile"]


_JPEG_COLOURS = {"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}


def check_jpeg_complete(path: Path) -> None:
    """Refuse JPEG data that stops before the last row: libjpeg would fill the rest with grey
    and only warn. A strict decode at 1/8 scale reads every block and costs little memory."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            _h, _w, colour, _sub = simplejpeg.decode_jpeg_header(data)
            simplejpeg.decode_jpeg(
                data,
                colorspace=_JPEG_COLOURS.get(colour, "RGB"),
                min_height=1,
                min_width=1,
                strict=True,
            )
        except ValueError as exc:
            # Other warnings (stray bytes before a marker…) are common in good files.
            if "premature end" in str(exc).lower():
                raise InvalidImage(
                    "the file is truncated: the JPEG data ends before the picture does"
                ) from None


def open_checked(path: Path, *, max_pixels: int, still: bool = True) -> Image.Image:
    """Open `path` and judge it from its header (see the module docstring); not decoded yet.
    The caller decodes with `load_checked` and closes the image."""
    if path.stat().st_size == 0:
        raise InvalidImage("the file is empty (0 bytes)")
    align_pillow(max_pixels)
    # A half-uploaded scan must fail loudly, never decode with a grey bottom half.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with pillow_errors():
        im = Image.open(path)
    try:
        with pillow_errors():
            check_pixels(im.size, max_pixels)
            check_shape(im.size)
            if still:
                check_still(im)
            check_icc(im)
            if im.format in ("JPEG", "MPO"):
                check_jpeg_complete(path)
    except BaseException:
        im.close()
        raise
    return im


def load_checked(im: Image.Image) -> Image.Image:
    """Decode the pixels of an image `open_checked` returned."""
    with pillow_errors():
        im.load()
    return im


class PixelBudget:
    """How many pixels a process's views (thumbnails, full-size views) decode at the same time:
    at most MAX_PIXELS in all. Four people opening a folder of large scans then queue for the
    decoder instead of holding four full-size images at once; small ones pass side by side."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def take(self, pixels: int) -> AsyncIterator[None]:
        """Hold `pixels` of the budget (at most all of it) while the block runs."""
        need = max(1, min(pixels, self.total))
        async with self._changed:
            await self._changed.wait_for(lambda: self.used + need <= self.total)
            self.used += need
        try:
            yield
        finally:
            async with self._changed:
                self.used -= need
                self._changed.notify_all()
