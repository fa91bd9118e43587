"""Small test images made on the fly: photos with EXIF, odd modes, and broken files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

DATE_TAKEN = "1958:07:14 10:30:00"


def photo(width: int = 320, height: int = 240, seed: int = 1) -> Image.Image:
    """A smooth photo-like RGB picture (gradients and shapes, a little texture)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = 120 + 80 * np.sin(x / 37.0) * np.cos(y / 53.0)
    g = 110 + 60 * np.cos(x / 23.0 + y / 41.0)
    b = 100 + 50 * np.sin((x + y) / 61.0)
    arr = np.stack([r, g, b], axis=-1) + rng.normal(0, 2, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def jpeg_with_exif(path: Path, *, orientation: int = 1, size: tuple[int, int] = (320, 240)) -> None:
    """A JPEG with DateTimeOriginal and an orientation tag."""
    im = photo(*size)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Epson"
    exif.get_ifd(0x8769)[0x9003] = DATE_TAKEN
    im.save(path, format="JPEG", quality=92, exif=exif.tobytes())


def png_bomb(path: Path, width: int = 40_000, height: int = 40_000) -> None:
    """A tiny PNG whose header claims width×height pixels (1.6 gigapixels by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    # One compressed row of zeros is enough: the decoder must refuse before reading pixels.
    idat = zlib.compress(b"\x00" * (width + 1) * 4)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def truncated_jpeg(path: Path) -> None:
    """A JPEG cut in half."""
    full = path.with_suffix(".full.jpg")
    photo(640, 480).save(full, format="JPEG", quality=90)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 2])
