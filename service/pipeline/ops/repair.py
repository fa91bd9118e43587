"""`repair_damage`: find what is broken on the print and fill it in, touching nothing else.

The detector (`service.pipeline.damage.detect`) gives a mask; the user's corrections from the
review page (`handoff.edited_mask`) are applied to it; the final mask is left for the steps
after this one and for the dashboard (`handoff.DAMAGE_MASK`, in the frame of the image this step
received); `damage.fill` rebuilds what it covers, except folds: the picture is still there
beneath a fold, so its ridge and trough are subtracted instead (`damage.flatten`). Alpha is
kept as it was: transparency is not damage, and OpenCV's inpainting takes one or three bands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from service.pipeline import handoff
from service.pipeline.damage import detect, fill, flatten
from service.pipeline.ops._common import split_alpha, with_alpha
from service.pipeline.parallel import strips
from service.pipeline.registry import OpContext, register

MODES = ("RGB", "RGBA", "L", "LA")
FLATTEN_ROWS = 256


@register(
    "repair_damage",
    "Find cracks, scratches, creases, dust and torn corners and repair them, touching nothing else",
)
def repair_damage(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """The image with its damage repaired; the very same object when none is found."""
    if image.mode not in MODES:
        return image
    base, alpha = split_alpha(image)
    found = detect.find(base)
    edited = handoff.edited_mask(ctx, found.mask)  # what the user added is 255: filled
    mask = detect.as_mask(edited)
    ctx.extra[handoff.DAMAGE_MASK] = mask
    if mask.getbbox() is None:
        return image
    repaired = _flattened(base, found, edited)
    to_fill = edited.point(lambda v: 255 if v == detect.DAMAGE else 0)
    repaired = fill.fill(repaired, to_fill)
    if repaired is base:
        return image
    return with_alpha(repaired, alpha)


def _flattened(base: Image.Image, found: detect.Found, edited: Image.Image) -> Image.Image:
    """`base` with its folds flattened where the mask still marks them as folds."""
    if not found.folds:
        return base
    grey = np.asarray(base.getchannel(0) if base.mode == "L" else base.convert("L"))
    tables = flatten.profiles(grey, found.folds)
    del grey
    out: Image.Image | None = None
    for y0, y1 in strips(base.height, FLATTEN_ROWS):  # strips: no second full-size array
        box = (0, y0, base.width, y1)
        where = np.asarray(edited.crop(box)) == detect.FOLD
        if not where.any():
            continue
        pixels = np.array(base.crop(box))
        flatten.flatten(pixels, tables, where, top=y0)
        if out is None:
            out = base.copy()
        out.paste(Image.fromarray(pixels, base.mode), box)
    return base if out is None else out
