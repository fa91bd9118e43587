"""What a model step leaves in `OpContext.extra` for the steps after it.

A remote model answers with about one megapixel; the merge step after it needs the scan as it
stood before the model saw it, at full size, to put the scan's own detail back. The remote
executor leaves it here (`leave`), the merge takes it (`take`, which also frees it), and the
runner drops whatever is left at the end of a run so no full-size copy outlives the chain.

Keys of `OpContext.extra` used by the pipeline (the dict is shared by every step of a run):

    BEFORE_MODEL   a `BeforeModel`: the scan before the first of consecutive model steps
    DAMAGE_MASK    an 'L' image from the offline damage detector, in the frame of the image it
                   received (255 = damaged); read when present, never required
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from service.pipeline.registry import OpContext

BEFORE_MODEL = "before_model"
DAMAGE_MASK = "damage_mask"
FIDELITY_LEVELS = ("faithful", "balanced", "strong")
DEFAULT_FIDELITY = "balanced"


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
