"""`repair_damage`: find what is broken on the print and fill it in, touching nothing else.

The detector (`service.pipeline.damage.detect`) gives a mask; the user's corrections from the
review page (`handoff.edited_mask`) are applied to it; the final mask is left for the steps
after this one and for the dashboard (`handoff.DAMAGE_MASK`, in the frame of the image this step
received); `damage.fill` rebuilds what it covers. Alpha is kept as it was: transparency is not
damage, and OpenCV's inpainting takes one or three bands.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from service.pipeline import handoff
from service.pipeline.damage import detect, fill
from service.pipeline.ops._common import split_alpha, with_alpha
from service.pipeline.registry import OpContext, register

MODES = ("RGB", "RGBA", "L", "LA")


@register(
    "repair_damage",
    "Find cracks, scratches, creases, dust and torn corners, and fill them in from around them",
)
def repair_damage(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """The image with its damage filled in; the very same object when none is found."""
    if image.mode not in MODES:
        return image
    base, alpha = split_alpha(image)
    mask = handoff.edited_mask(ctx, detect.detect(base))
    ctx.extra[handoff.DAMAGE_MASK] = mask
    if mask.getbbox() is None:
        return image
    repaired = fill.fill(base, mask)
    if repaired is base:
        return image
    return with_alpha(repaired, alpha)
