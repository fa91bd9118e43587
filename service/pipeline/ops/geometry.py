"""Geometry operations: orientation and sizes."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageOps

from service.errors import ConfigError
from service.pipeline.registry import OpContext, register

_ORIENTATION = 0x0112
MAX_UPSCALE = 8.0  # beyond this a local resize only makes a bigger blur and a huge file


@register("auto_orient", "Turn the photo upright from its EXIF orientation")
def auto_orient(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Decoding already applies EXIF orientation; this catches images built elsewhere."""
    if image.getexif().get(_ORIENTATION, 1) == 1:
        return image
    out = ImageOps.exif_transpose(image)
    return image if out is None else out


@register("match_size", "Bring a remote model's smaller result back to the scan's size")
def match_size(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Lanczos resize to `ctx.original_size`; same image when it already matches (or is unknown)."""
    target = ctx.original_size
    if target == image.size or min(target) <= 0:
        return image
    return image.resize(target, Image.Resampling.LANCZOS)


@register("upscale", "Enlarge by `factor` (default 2) with Lanczos; super-resolution's fallback")
def upscale(image: Image.Image, ctx: OpContext, /, *, factor: float = 2, **_: Any) -> Image.Image:
    """A careful local resize when no super-resolution model can run."""
    try:
        f = float(factor)
    except (TypeError, ValueError):
        raise ConfigError(f"upscale: factor must be a number, got {factor!r}") from None
    if not 1.0 <= f <= MAX_UPSCALE:
        raise ConfigError(f"upscale: factor must be between 1 and {MAX_UPSCALE:g}, got {f:g}")
    if f == 1.0:
        return image
    size = (round(image.width * f), round(image.height * f))
    return image.resize(size, Image.Resampling.LANCZOS)
