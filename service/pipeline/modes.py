"""Working modes: whatever a scan holds, the operations get RGB, RGBA, L or LA.

Most scans are 8-bit RGB or grey already and pass untouched (no copy). The rest are converted
so that the picture survives: CMYK through its embedded profile, CIELAB through a LAB → sRGB
transform, and deep integer or float data scaled from its own range — a 32-bit integer scan
holding 0…65535 is not 256 times too bright to clip to white, nor a float scan in 0…1 black.
`high_bit_depth` says when the result should be written back with 16 bits.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
HIGH_BIT_DEPTH = (*SIXTEEN_BIT, "I", "F")  # written back as 16-bit grey where the format can
_SAMPLE_FORMAT = 339  # TIFF: 1 unsigned, 2 signed, 3 float
_INTEGER_TOPS = (255, 65535, 2**31 - 1, 2**32 - 1)
_ROWS = 256  # rows scaled at once: temporaries of a strip, not of the scan


def high_bit_depth(mode: str) -> bool:
    """True for deep grey modes, whose result keeps 16 bits in PNG and TIFF."""
    return mode in HIGH_BIT_DEPTH


def working(im: Image.Image) -> tuple[Image.Image, bytes | None]:
    """Convert to a mode every operation handles; returns the image and the ICC to keep."""
    icc = im.info.get("icc_profile")
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return im, icc
    if mode == "CMYK":
        return _from_cmyk(im, icc)
    if mode == "LAB":
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        transform = ImageCms.buildTransform(lab, srgb, "LAB", "RGB")
        out = ImageCms.applyTransform(im, transform)
        assert out is not None
        return out, ImageCms.ImageCmsProfile(srgb).tobytes()
    if mode in SIXTEEN_BIT:
        # 16-bit greyscale: 8 bits for the operations; encode restores 16 bits for TIFF/PNG.
        return im.point(lambda v: v / 257).convert("L"), icc
    if mode in ("I", "F"):
        return _scaled_grey(im), icc
    if mode in ("P", "PA"):
        return im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB"), icc
    if mode == "1":
        return im.convert("L"), icc
    return im.convert("RGB"), icc


def _from_cmyk(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """CMYK through the embedded profile when there is one (the result is sRGB)."""
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            assert out is not None
            return out, ImageCms.ImageCmsProfile(dst).tobytes()
        except (ImageCms.PyCMSError, OSError):
            pass
    return im.convert("RGB"), None


def _range(arr: np.ndarray) -> tuple[float, float]:
    """The range the samples are meant in: integers in the smallest of 8, 16, 31 or 32 bits
    that holds them (negative ones: their own range), floats in 0…1 when they fit there."""
    lo, hi = float(arr.min()), float(arr.max())
    if arr.dtype.kind == "f":
        if lo >= 0.0 and hi <= 1.0:
            return 0.0, 1.0
        return lo, max(hi, lo + 1e-6)
    if lo < 0:
        return lo, max(hi, lo + 1)
    return 0.0, float(next(t for t in _INTEGER_TOPS if hi <= t))


def _scaled_grey(im: Image.Image) -> Image.Image:
    """A 32-bit integer or float grey image as 8-bit L, scaled from its own range."""
    arr = np.asarray(im)
    tag = getattr(im, "tag_v2", {}).get(_SAMPLE_FORMAT)
    if arr.dtype == np.int32 and tag in (1, (1,)):
        arr = arr.view(np.uint32)  # Pillow reads unsigned 32-bit TIFF samples as signed
    lo, hi = _range(arr)
    scale = 255.0 / (hi - lo)
    out = np.empty(arr.shape, np.uint8)
    for y in range(0, arr.shape[0], _ROWS):
        part = (arr[y : y + _ROWS].astype(np.float64) - lo) * scale
        out[y : y + _ROWS] = np.clip(np.rint(part), 0, 255)
    return Image.fromarray(out)
