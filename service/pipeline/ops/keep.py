"""The "keep the original here" brush: put the original's pixels back inside a painted mask.

The mask comes from the dashboard as a PNG data URL painted over the restored result. It is
applied after the chain, against the original replayed through the same crops, rotations and
resizes (`service.pipeline.transforms`), so a face the model changed can be had back exactly.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image, ImageFilter, UnidentifiedImageError

from service.errors import InvalidEdit
from service.pipeline.registry import OpContext, register

MAX_MASK_BYTES = 2 * 1024 * 1024
MAX_MASK_EDGE = 8192
PREFIX = "data:image/png;base64,"
ALIGNED_ORIGINAL = "aligned_original"  # OpContext.extra key the restore task fills in


def decode_mask(mask: Any, what: str = "keep_original: mask") -> Image.Image:
    """The mask as an 'L' image (alpha if it has one, else luminance), or an InvalidEdit whose
    message starts with `what` (the operation and parameter, for every brush's edit)."""
    if not isinstance(mask, str) or not mask.startswith(PREFIX):
        raise InvalidEdit(f"{what} must be a PNG data URL (data:image/png;base64,…)")
    if len(mask) > MAX_MASK_BYTES * 4 // 3 + len(PREFIX) + 4:
        raise InvalidEdit(f"{what} larger than {MAX_MASK_BYTES // 1024 // 1024} MB")
    try:
        raw = base64.b64decode(mask[len(PREFIX) :], validate=True)
        im = Image.open(io.BytesIO(raw))
        if im.format != "PNG" or max(im.size) > MAX_MASK_EDGE:
            raise InvalidEdit(f"{what} must be a PNG up to {MAX_MASK_EDGE} px")
        im.load()
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise InvalidEdit(f"{what} is not a readable PNG") from None
    if "A" in im.getbands():
        return im.getchannel("A")
    return im.convert("L")


@register(
    "keep_original",
    "Put the original back where the mask is painted (after the chain)",
    manual=True,
)
def keep_original(
    image: Image.Image, ctx: OpContext, /, *, mask: Any = None, feather: float = 3.0, **_: Any
) -> Image.Image:
    """Composite the aligned original over `image` inside the mask, with soft edges."""
    alpha = decode_mask(mask)
    try:
        radius = max(0.0, min(50.0, float(feather)))
    except (TypeError, ValueError):
        raise InvalidEdit(f"keep_original: feather must be a number, got {feather!r}") from None
    original = ctx.extra.get(ALIGNED_ORIGINAL)
    if original is None or alpha.getextrema() == (0, 0):
        return image  # validation only, or nothing painted
    alpha = alpha.resize(image.size, Image.Resampling.BILINEAR)
    if radius:
        alpha = alpha.filter(ImageFilter.GaussianBlur(radius))
    if original.size != image.size:
        original = original.resize(image.size, Image.Resampling.LANCZOS)
    if original.mode != image.mode:
        original = original.convert(image.mode)
    return Image.composite(original, image, alpha)
