"""Geometry operations: orientation and sizes."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageOps

from service.pipeline.registry import OpContext, register


@register("auto_orient", "Turn the photo upright from its EXIF orientation")
def auto_orient(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Decoding already applies EXIF orientation; this catches images built elsewhere."""
    out = ImageOps.exif_transpose(image)
    return image if out is None else out
