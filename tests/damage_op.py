"""A stand-in for the damage detector, for tests of what surrounds it (the mask as a step result,
the review page's mask brush): it marks a fixed box as damaged, applies the user's corrections
as the real detector's step does (`handoff.edited_mask`) and leaves the mask for the run, and
changes no pixel. Registered under a name no real operation has, and a models.toml with a chain
running it, for the live app and the in-process API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from service.pipeline import handoff, registry
from service.pipeline.registry import OpContext

OP = "tests_mark_damage_box"
CHAIN = "masked"
BOX = (0.1, 0.1, 0.4, 0.4)  # the "damage" found, as fractions of the image the step received
MODELS = Path(__file__).resolve().parents[1] / "service" / "config" / "models.toml"


def box_mask(size: tuple[int, int], box: tuple[float, float, float, float] = BOX) -> Image.Image:
    """An 'L' mask of `size`, 255 inside `box` (fractions of the width and height)."""
    w, h = size
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(
        (box[0] * w, box[1] * h, box[2] * w - 1, box[3] * h - 1), fill=255
    )
    return mask


def mark_damage_box(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Leave the box, as corrected by the user, as the run's damage mask."""
    ctx.extra[handoff.DAMAGE_MASK] = handoff.edited_mask(ctx, box_mask(image.size))
    return image


if OP not in registry.names():
    registry.register(OP, "tests only: marks a fixed box as damage")(mark_damage_box)


def _models_plus(tmp: Path, chain: str) -> Path:
    """The real models.toml with `chain` (TOML text) appended, written into `tmp`."""
    path = tmp / "models.toml"
    path.write_text(MODELS.read_text(encoding="utf-8") + chain, encoding="utf-8")
    return path


def models_with_mask_chain(tmp: Path) -> Path:
    """The real models.toml plus a chain `masked`: remove the border, mark the box, level."""
    chain = f"""

[chains.{CHAIN}]
title = "Masked (tests)"
description = "Border removal, then a stand-in damage detector, then levels."
[[chains.{CHAIN}.steps]]
op = "remove_border"
[[chains.{CHAIN}.steps]]
op = "{OP}"
[[chains.{CHAIN}.steps]]
op = "auto_levels"
"""
    return _models_plus(tmp, chain)


NO_DETECTOR = "levels-only"


def models_with_plain_chain(tmp: Path) -> Path:
    """The real models.toml plus a chain with no damage step at all: levels only."""
    chain = f"""

[chains.{NO_DETECTOR}]
title = "Levels only (tests)"
description = "No damage detector: no mask to show."
[[chains.{NO_DETECTOR}.steps]]
op = "auto_levels"
"""
    return _models_plus(tmp, chain)
