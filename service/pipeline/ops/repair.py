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

from service.pipeline import handoff, memory
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
    memory.release_memory()  # what the steps before freed, before this step's peak
    base, alpha = split_alpha(image)
    found = detect.find(base)
    folds = found.folds
    edited = handoff.edited_mask(ctx, found.mask)  # what the user added is 255: filled
    del found  # its mask is `edited` now, or garbage
    # Without a fold the mask is 0 or 255 already (DAMAGE); with one its 254s become 255.
    mask = detect.as_mask(edited) if folds else edited
    ctx.extra[handoff.DAMAGE_MASK] = mask
    if mask.getbbox() is None:
        return image
    memory.release_memory()  # the detectors' strips, before the fill's copy and crops
    # `base` is this step's own when the alpha was split off, or when the runner lets the step
    # own its image: then the repair is written into it, and no second full-size copy is made.
    owned = base is not image or ctx.ownership.may_write(image)
    if not folds:  # what the fill takes (≥ 128) is the shared mask itself
        repaired = fill.fill(base, mask, in_place=owned)
    else:
        flat = _flattened(base, folds, edited, in_place=owned)
        _drop_folds(edited)  # what is left ≥ 128 is what the fill rebuilds
        # The fill writes into the flattened copy, which is this step's own: one copy in all.
        repaired = fill.fill(flat, edited, in_place=owned or flat is not base)
        del edited, flat
    memory.release_memory()  # the crops' memory, before the next step's peak
    if repaired is image:
        ctx.ownership.wrote()
    return with_alpha(repaired, alpha)


def _flattened(
    base: Image.Image, folds: list[flatten.Fold], edited: Image.Image, *, in_place: bool
) -> Image.Image:
    """`base` with its folds flattened where the mask still marks them as folds; written into
    `base` itself when `in_place`."""
    grey = np.asarray(base.getchannel(0) if base.mode == "L" else base.convert("L"))
    tables = flatten.profiles(grey, folds)
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
            out = base if in_place else base.copy()
        out.paste(Image.fromarray(pixels, base.mode), box)
    return base if out is None else out


def _drop_folds(edited: Image.Image) -> None:
    """Clear the fold marks of `edited` (this step's own mask) in place, strip by strip: a
    full-size second mask would be more memory than the strips' work."""
    for y0, y1 in strips(edited.height, FLATTEN_ROWS):
        box = (0, y0, edited.width, y1)
        part = np.array(edited.crop(box))
        fold = part == detect.FOLD
        if fold.any():
            part[fold] = 0
            edited.paste(Image.fromarray(part, "L"), box)
