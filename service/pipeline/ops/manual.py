"""Hand edits from the dashboard: crop, quarter turns, straighten, brightness/contrast/saturation.

They run before the chain's steps and always do what they are told; parameters that make no
sense are refused with an InvalidEdit naming the parameter, and a no-op request returns the
same image so the timeline shows it as skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from service.errors import InvalidEdit
from service.pipeline import transforms
from service.pipeline.ops._common import (
    apply_luts,
    base_mode,
    grey_array,
    split_alpha,
    thumbnail,
    with_alpha,
)
from service.pipeline.registry import OpContext, register
from service.pipeline.resample import rotate_crop

MAX_STRAIGHTEN = 45.0
FACTOR_RANGE = (0.0, 4.0)
_TURNS = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def _number(op: str, name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidEdit(f"{op}: {name} must be a number, got {value!r}") from None


@register("crop", "Crop to a box given as fractions (0..1) of the image", manual=True)
def crop(
    image: Image.Image,
    ctx: OpContext,
    /,
    *,
    left: float = 0.0,
    top: float = 0.0,
    right: float = 1.0,
    bottom: float = 1.0,
    **_: Any,
) -> Image.Image:
    """Keep the box (left, top, right, bottom), each a fraction of the current width/height."""
    box = [
        _number("crop", n, v)
        for n, v in (("left", left), ("top", top), ("right", right), ("bottom", bottom))
    ]
    x0, y0, x1, y1 = box
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise InvalidEdit(f"crop: need 0 <= left < right <= 1, 0 <= top < bottom <= 1; got {box}")
    w, h = image.size
    px = (
        round(x0 * w),
        round(y0 * h),
        max(round(x1 * w), round(x0 * w) + 1),
        max(round(y1 * h), round(y0 * h) + 1),
    )
    if px == (0, 0, w, h):
        return image
    transforms.record("crop", box=px)
    return image.crop(px)


@register("rotate", "Turn by a quarter: 90, 180 or 270 degrees counter-clockwise", manual=True)
def rotate(image: Image.Image, ctx: OpContext, /, *, degrees: int = 90, **_: Any) -> Image.Image:
    """Lossless quarter turns; 0 (or 360) returns the same image."""
    d = _number("rotate", "degrees", degrees)
    if d % 90:
        raise InvalidEdit(f"rotate: degrees must be a multiple of 90, got {degrees!r}")
    turn = int(d) % 360
    if turn == 0:
        return image
    transforms.record("transpose", method=int(_TURNS[turn]))
    return image.transpose(_TURNS[turn])


@register("straighten", "Rotate by a small angle and crop to the inscribed rectangle", manual=True)
def straighten(
    image: Image.Image, ctx: OpContext, /, *, angle: float = 0.0, **_: Any
) -> Image.Image:
    """Counter-clockwise by `angle` degrees; no fill colour is ever visible in the result."""
    a = _number("straighten", "angle", angle)
    if abs(a) > MAX_STRAIGHTEN:
        raise InvalidEdit(f"straighten: angle must be within ±{MAX_STRAIGHTEN:g}°, got {a:g}")
    if a == 0:
        return image
    transforms.record("rotate_crop", degrees=a, box=None)
    return rotate_crop(image, a)


@register("adjust", "Brightness, contrast and saturation as factors (1.0 = unchanged)", manual=True)
def adjust(
    image: Image.Image,
    ctx: OpContext,
    /,
    *,
    brightness: float = 1.0,
    contrast: float = 1.0,
    saturation: float = 1.0,
    **_: Any,
) -> Image.Image:
    """Brightness and contrast as one lookup table; saturation blends with the grey image."""
    factors = {
        n: _number("adjust", n, v)
        for n, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation))
    }
    for name, value in factors.items():
        if not FACTOR_RANGE[0] <= value <= FACTOR_RANGE[1]:
            raise InvalidEdit(
                f"adjust: {name} must be between {FACTOR_RANGE[0]:g} and "
                f"{FACTOR_RANGE[1]:g}, got {value:g}"
            )
    out = image
    b, c = factors["brightness"], factors["contrast"]
    if b != 1.0 or c != 1.0:
        # Contrast pivots on the mean grey, as ImageEnhance.Contrast does.
        mean = float(grey_array(thumbnail(image)).mean())
        v = np.arange(256, dtype=np.float64)
        out = apply_luts(out, [((v - mean) * c + mean) * b])
    s = factors["saturation"]
    if s != 1.0 and base_mode(out) == "RGB":
        colour, alpha = split_alpha(out)
        out = with_alpha(ImageEnhance.Color(colour).enhance(s), alpha)
    return out
