"""What a model step leaves in `OpContext.extra` for the steps after it.

A remote model answers with about one megapixel; the merge step after it needs the scan as it
stood before the model saw it, at full size, to put the scan's own detail back. The remote
executor leaves it here (`leave`), the merge takes it (`take`, which also frees it), and the
runner drops whatever is left at the end of a run so no full-size copy outlives the chain.

Keys of `OpContext.extra` used by the pipeline (the dict is shared by every step of a run):

    BEFORE_MODEL   a `BeforeModel`: the scan before the first of consecutive model steps
    DAMAGE_MASK    an 'L' image from the offline damage detector, in the frame of the image it
                   received (255 = damaged); read when present, never required
    DAMAGE_EDIT    a `MaskEdit`: the user's corrections to that mask (the `damage_mask` hand
                   edit), applied by the detector's step with `edited_mask`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from service.pipeline.registry import OpContext

BEFORE_MODEL = "before_model"
DAMAGE_MASK = "damage_mask"
DAMAGE_EDIT = "damage_mask_edit"
FIDELITY_LEVELS = ("faithful", "balanced", "strong")
DEFAULT_FIDELITY = "balanced"
PAINTED = 128  # a `MaskEdit` mask's level from which a pixel counts as painted


@dataclass(frozen=True)
class BeforeModel:
    """The scan a model step was given, and how the step was asked."""

    scan: Image.Image
    model: str
    fidelity: str = DEFAULT_FIDELITY
    calls: int = 1


def leave(
    ctx: OpContext, scan: Image.Image, model: str, *, fidelity: str | None = None, calls: int = 1
) -> None:
    """Keep `scan` for the merge, unless an earlier model step of this run already left one.

    With two model steps in a row (repair, then colourise) the merge wants the scan before the
    first: the second step's input is already the first model's small answer.
    """
    if BEFORE_MODEL in ctx.extra:
        return
    ctx.extra[BEFORE_MODEL] = BeforeModel(scan, model, fidelity_level(fidelity), calls)


def take(ctx: OpContext) -> BeforeModel | None:
    """The scan left by the model step, removed from the context (None when there is none)."""
    value = ctx.extra.pop(BEFORE_MODEL, None)
    return value if isinstance(value, BeforeModel) else None


def drop(ctx: OpContext) -> None:
    """Forget the scan (end of a run)."""
    ctx.extra.pop(BEFORE_MODEL, None)


def fidelity_level(level: Any) -> str:
    """A known fidelity level; 'balanced' when none was chosen (or a chain's own name is used)."""
    return level if level in FIDELITY_LEVELS else DEFAULT_FIDELITY


def damage_mask(ctx: OpContext) -> Image.Image | None:
    """The offline damage detector's mask, when it ran and left one."""
    mask = ctx.extra.get(DAMAGE_MASK)
    return mask if isinstance(mask, Image.Image) else None


@dataclass(frozen=True)
class MaskEdit:
    """What the user painted over the damage mask on the review page: `add` marks more damage,
    `erase` marks picture the detector took for damage. Both are 'L' images (255 = painted)
    over the view the mask was shown on, which has the frame the detector's step received;
    they are scaled to that frame when applied, so only their proportions matter."""

    add: Image.Image | None = None
    erase: Image.Image | None = None


def leave_mask_edit(ctx: OpContext, edit: MaskEdit) -> None:
    """Keep the user's corrections for the detector's step of this run."""
    ctx.extra[DAMAGE_EDIT] = edit


def edited_mask(ctx: OpContext, detected: Image.Image) -> Image.Image:
    """`detected` (an 'L' mask) with the user's additions set and erasures cleared; the very
    same object when there is no edit, so a step can tell nothing changed."""
    edit = ctx.extra.get(DAMAGE_EDIT)
    if not isinstance(edit, MaskEdit) or (edit.add is None and edit.erase is None):
        return detected
    out = np.array(detected.convert("L"))
    for painted, value in ((edit.add, 255), (edit.erase, 0)):
        if painted is None:
            continue
        scaled = painted.convert("L").resize(detected.size, Image.Resampling.BILINEAR)
        out[np.asarray(scaled) >= PAINTED] = value
    return Image.fromarray(out, "L")
