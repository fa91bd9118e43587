"""The damage-mask brush: the user's corrections to what the damage detector marked.

On the review page the detector's mask is shown over the aligned "before" (the original in the
result's frame, which for `classic` is the frame the detector's step received); what the user
paints there comes back as two PNG data URLs, `add` (more damage) and `erase` (picture the
detector took for damage). This hand edit changes no pixel: it leaves a `handoff.MaskEdit` in
the run's shared `OpContext.extra`, and the detector's step, later in the same run, applies it
with `handoff.edited_mask` before filling. So unlike "keep the original here", which needs the
chain's result and runs after it, this edit runs where every hand edit runs: before the chain.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from service.pipeline import handoff
from service.pipeline.ops.keep import decode_mask
from service.pipeline.registry import OpContext, register

OP = "damage_mask"


def painted(value: Any, param: str) -> Image.Image | None:
    """One of the edit's masks as an 'L' image, None when absent or when nothing in it counts
    as painted; an InvalidEdit naming the parameter when it is not a usable PNG data URL."""
    if value is None or value == "":
        return None
    mask = decode_mask(value, f"{OP}: {param}")
    counted = mask.point(lambda v: 255 if v >= handoff.PAINTED else 0)
    return mask if counted.getbbox() is not None else None


@register(
    OP,
    "Corrections to the damage mask: painted additions and erasures, for the repair step",
    manual=True,
)
def damage_mask(
    image: Image.Image, ctx: OpContext, /, *, add: Any = None, erase: Any = None, **_: Any
) -> Image.Image:
    """Leave the painted corrections for the detector's step; the image is returned unchanged
    (the runner records this step as skipped: it touches no pixel by itself)."""
    edit = handoff.MaskEdit(add=painted(add, "add"), erase=painted(erase, "erase"))
    if edit.add is not None or edit.erase is not None:
        handoff.leave_mask_edit(ctx, edit)
    return image
