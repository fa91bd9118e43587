"""Decode and encode scans safely, keeping what matters: EXIF (date taken above all) and ICC.

Decoding refuses, with a reason a person understands, what the decode guard
(`service.pipeline.guard`) refuses: empty files, non-images, truncated files, decompression
bombs (more pixels than `max_pixels`, checked from the header before any pixel is decoded),
slivers, animations and multi-page files. The working image is upright (EXIF orientation
applied) and in a mode the operations handle (RGB, RGBA, L, LA); encoding maps it back to
what the format takes.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from service import errors, formats
from service.errors import EncodeError
from service.pipeline import guard, metadata, modes

PROVENANCE_KEY = "photo-restore"
_EXIF_ORIENTATION = 0x0112
_EXIF_SOFTWARE = 0x0131
_EXIF_IMAGE_DESCRIPTION = 0x010E
_EXIF_SUB_IFDS = (0x8769, 0x8825)  # Exif (DateTimeOriginal lives here) and GPS
_EXIF_IFD = 0x8769
_EXIF_DATETIME = 0x0132  # IFD0 DateTime: strictly the file's change date, read as a fallback
_EXIF_DATETIME_ORIGINAL = 0x9003
# When the photo was taken (and digitised), with time zone and fractions: Exif IFD tags.
_DATE_TAGS = (0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9290, 0x9291, 0x9292)
_EXIF_POINTERS = (0x8769, 0x8825, 0xA005, 0x014A)  # offsets into the old file: never copied as-is
_JPEG_COMMENT_LIMIT = 60_000  # a JPEG COM segment holds < 64 KiB
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Pillow stores big images in blocks of 16 MiB by default. glibc serves blocks that size from
# its heap once a freed mapping has raised its mmap threshold (up to 32 MiB), and a freed
# scan on the heap is often not handed back or reused across threads: a chain of full-size
# steps then peaked at well over three scans' worth. Blocks above 32 MiB are always mapped
# straight from the kernel and returned the moment an image is freed.
_PILLOW_BLOCK_SIZE = 40 * 1024 * 1024


def _configure_pillow_memory() -> None:
    """Large image blocks, unless the deployment chose a size (PILLOW_BLOCK_SIZE)."""
    core = Image.core  # type: ignore[attr-defined]  # Pillow's C core: public, not re-exported
    if "PILLOW_BLOCK_SIZE" not in os.environ and core.get_block_size() < _PILLOW_BLOCK_SIZE:
        core.set_block_size(_PILLOW_BLOCK_SIZE)


_configure_pillow_memory()


@dataclass
class Decoded:
    """A decoded scan with the metadata to carry over to the result."""

    image: Image.Image
    format: str
    original_mode: str
    exif: Image.Exif | None = None
    exif_ifds: dict[int, dict[int, Any]] = field(default_factory=dict)
    icc_profile: bytes | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the upright image."""
        return self.image.size


def _upright(im: Image.Image, exif: Image.Exif) -> Image.Image:
    """Apply the EXIF orientation (without copying an already upright scan) and drop the tag."""
    orientation = exif.get(_EXIF_ORIENTATION, 1)
    if _EXIF_ORIENTATION in exif:
        del exif[_EXIF_ORIENTATION]
    method = _TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    return im if method is None else im.transpose(method)


def decode(path: Path, *, max_pixels: int) -> Decoded:
    """Open, validate and fully decode the image at `path`, or raise InvalidImage with a reason."""
    im = guard.load_checked(guard.open_checked(path, max_pixels=max_pixels))
    fmt = im.format or "PNG"
    with guard.pillow_errors():
        exif = im.getexif()
        ifds = {tag: dict(exif.get_ifd(tag)) for tag in _EXIF_SUB_IFDS if tag in exif}
    if _EXIF_IFD in ifds:
        ifds[_EXIF_IFD] = metadata.exif_ifd(ifds[_EXIF_IFD])
    original_mode = im.mode
    info = {k: v for k, v in im.info.items() if k in ("dpi", "compression")}
    icc_in = im.info.get("icc_profile")
    upright = _upright(im, exif)
    if icc_in and "icc_profile" not in upright.info:
        upright.info["icc_profile"] = icc_in
    metadata.descriptive(exif)  # never the old file's layout (strips, sizes, compression)
    with guard.pillow_errors():
        working, icc = modes.working(upright)
    # The EXIF travels in `Decoded.exif`; left in `info` it would still say "rotate me" to any
    # operation that reads it (auto_orient) although the pixels are upright now.
    working.info.pop("exif", None)
    return Decoded(
        image=working,
        format=fmt,
        original_mode=original_mode,
        exif=exif if len(exif) or ifds else None,
        exif_ifds=ifds,
        icc_profile=icc,
        info=info,
    )


def _output_image(image: Image.Image, fmt: str, original_mode: str) -> Image.Image:
    if fmt == "JPEG":
        if image.mode in ("RGBA", "LA"):
            return image.convert("RGB" if image.mode == "RGBA" else "L")
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if fmt in ("PNG", "TIFF") and modes.high_bit_depth(original_mode) and image.mode == "L":
        # Give 16-bit greyscale back its depth so the result is not a downgrade of the scan.
        return image.convert("I").point(lambda v: v * 257).convert("I;16")
    return image


def _place_exif_ifds(exif: Image.Exif, ifds: dict[int, dict[int, Any]], fmt: str) -> None:
    """Put the sub-IFDs (Exif, GPS) into `exif`; for TIFF, keep the date taken in IFD0.

    libtiff, which writes compressed TIFF through Pillow, cannot write the sub-IFD pointers, so
    a TIFF result keeps only IFD0. Its date tags then go into IFD0 itself, where TIFF readers
    and Pillow's `getexif()` find them (see `date_taken`), and DateTime gets the date taken
    when the scan had none. A TIFF we wrote that is decoded again gives its dates back to the
    Exif IFD of any other format.
    """
    exif_ifd = dict(ifds.get(_EXIF_IFD, {}))
    for tag in _DATE_TAGS:  # dates a TIFF source kept in IFD0
        if tag in exif:
            exif_ifd.setdefault(tag, exif[tag])
            del exif[tag]
    if fmt == "TIFF":
        for tag in _DATE_TAGS:
            value = exif_ifd.get(tag)
            if isinstance(value, str) and value.strip("\x00 "):
                exif[tag] = value
        if _EXIF_DATETIME_ORIGINAL in exif and not exif.get(_EXIF_DATETIME):
            exif[_EXIF_DATETIME] = exif[_EXIF_DATETIME_ORIGINAL]
        return
    for ifd_id, ifd in {**ifds, _EXIF_IFD: exif_ifd}.items():
        if ifd:
            exif.get_ifd(ifd_id).update(ifd)


def date_taken(im: Image.Image) -> str | None:
    """DateTimeOriginal ("YYYY:MM:DD HH:MM:SS") from the Exif IFD, or from IFD0 where `encode`
    keeps it for TIFF; None when the image does not say."""
    exif = im.getexif()
    for value in (
        exif.get_ifd(_EXIF_IFD).get(_EXIF_DATETIME_ORIGINAL),
        exif.get(_EXIF_DATETIME_ORIGINAL),
    ):
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and value.strip("\x00 "):
            return value.strip("\x00 ")
    return None


def encode(
    image: Image.Image,
    decoded: Decoded,
    *,
    fmt: str | None = None,
    provenance: dict[str, Any] | None = None,
    quality: int = 92,
) -> bytes:
    """Encode the result in `fmt` (default: the input's), carrying EXIF, ICC and provenance.

    A format the table of `service.formats` does not list as writable becomes PNG.
    """
    fmt = formats.writable(fmt or decoded.format)
    out_im = _output_image(image, fmt, decoded.original_mode)
    exif = Image.Exif()
    if decoded.exif is not None:
        for tag, value in decoded.exif.items():
            if tag not in _EXIF_POINTERS and tag != _EXIF_ORIENTATION:
                exif[tag] = value
    _place_exif_ifds(exif, decoded.exif_ifds, fmt)
    prov = json.dumps(provenance or {}, separators=(",", ":"), ensure_ascii=True)
    exif[_EXIF_SOFTWARE] = "photo-restore"
    if provenance and (fmt != "JPEG" or len(prov) < 2000):
        exif[_EXIF_IMAGE_DESCRIPTION] = f"{PROVENANCE_KEY}:{prov}"
    kwargs: dict[str, Any] = {"exif": exif.tobytes()}
    if decoded.icc_profile:
        kwargs["icc_profile"] = decoded.icc_profile
    if "dpi" in decoded.info:
        kwargs["dpi"] = decoded.info["dpi"]
    kwargs.update(_format_options(fmt, decoded, prov if provenance else None, quality))
    try:
        return _save(out_im, fmt, kwargs)
    except (OSError, ValueError, TypeError, KeyError, struct.error) as exc:
        if (full := errors.from_os(exc)) is not None:
            raise full from exc
        raise EncodeError(f"the result cannot be written as {fmt} ({exc})") from exc


def _format_options(fmt: str, decoded: Decoded, prov: str | None, quality: int) -> dict[str, Any]:
    """The encoder's options for `fmt`: quality, the provenance note, the TIFF's compression."""
    if fmt == "JPEG":
        options: dict[str, Any] = {
            "quality": quality,
            "subsampling": "4:4:4" if quality >= 90 else "4:2:0",
            "optimize": False,
        }
        if prov is not None and len(prov) < _JPEG_COMMENT_LIMIT:
            options["comment"] = f"{PROVENANCE_KEY}:{prov}".encode("ascii")
        return options
    if fmt == "PNG":
        from PIL import PngImagePlugin

        meta = PngImagePlugin.PngInfo()
        meta.add_itxt(PROVENANCE_KEY, prov or "{}")
        return {"pnginfo": meta, "compress_level": 6}
    if fmt == "TIFF":
        # The scan's own compression (LZW stays LZW), else Deflate.
        return {
            "compression": metadata.tiff_compression(
                decoded.format, decoded.info.get("compression")
            )
        }
    if fmt == "WEBP":
        return {"quality": quality}
    return {}


def _save(image: Image.Image, fmt: str, kwargs: dict[str, Any]) -> bytes:
    """The encoded bytes. A compressed TIFF goes through a temporary file: libtiff writes a
    file straight to its descriptor, but into memory it grows a buffer of the whole result and
    hands it over in copies (one more result-sized block at the peak, ~100 MB at 600 dpi)."""
    if fmt != "TIFF":
        buf = io.BytesIO()
        image.save(buf, format=fmt, **kwargs)
        return buf.getvalue()
    with tempfile.TemporaryFile() as fh:
        image.save(fh, format=fmt, **kwargs)
        fh.seek(0)
        return fh.read()


def read_provenance(data: bytes) -> dict[str, Any] | None:
    """The provenance recorded by `encode`, or None (also for bytes that are not an image)."""
    try:
        im = Image.open(io.BytesIO(data))
        candidates: list[Any] = [
            im.info.get(PROVENANCE_KEY),
            im.info.get("comment"),
            im.getexif().get(_EXIF_IMAGE_DESCRIPTION),
        ]
    except (OSError, SyntaxError, ValueError):
        return None
    for raw in candidates:
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        if not isinstance(text, str):
            continue
        if text.startswith(PROVENANCE_KEY + ":"):
            text = text[len(PROVENANCE_KEY) + 1 :]
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None
