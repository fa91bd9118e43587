"""The `repair_damage` step's contract: the mask it leaves, the user's corrections, alpha."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.pipeline import handoff
from service.pipeline.ops.repair import repair_damage
from service.pipeline.registry import OpContext, get


def gradient(mode: str = "RGB") -> Image.Image:
    ramp = np.tile(np.linspace(60, 190, 320, dtype=np.float32), (240, 1))
    grey = Image.fromarray(np.rint(ramp).astype(np.uint8), "L")
    return grey.convert(mode)


def scratched(mode: str = "RGB") -> Image.Image:
    image = gradient(mode)
    ImageDraw.Draw(image).line([(10, 30), (300, 200)], fill=(245,) * len(image.getbands()), width=2)
    return image


def test_repair_damage_is_registered_and_in_classic() -> None:
    assert get("repair_damage").func is repair_damage


def test_nothing_found_returns_the_same_image_and_an_empty_mask() -> None:
    ctx = OpContext()
    clean = gradient()
    assert repair_damage(clean, ctx) is clean
    mask = handoff.damage_mask(ctx)
    assert mask is not None
    assert mask.size == clean.size
    assert mask.getbbox() is None


def test_a_scratch_is_masked_and_filled() -> None:
    ctx = OpContext()
    image = scratched()
    out = repair_damage(image, ctx)
    mask = handoff.damage_mask(ctx)
    assert mask is not None
    assert mask.mode == "L"
    assert mask.size == image.size
    assert np.asarray(mask)[121, 165] == 255  # on the line from (10, 30) to (300, 200)
    before = np.abs(np.asarray(image, np.int16) - np.asarray(gradient(), np.int16)).sum()
    after = np.abs(np.asarray(out, np.int16) - np.asarray(gradient(), np.int16)).sum()
    assert after < before / 4


def test_what_the_user_erased_is_not_repaired() -> None:
    ctx = OpContext()
    handoff.leave_mask_edit(ctx, handoff.MaskEdit(erase=Image.new("L", (32, 24), 255)))
    image = scratched()
    assert repair_damage(image, ctx) is image


def test_what_the_user_added_is_repaired() -> None:
    ctx = OpContext()
    add = Image.new("L", (32, 24), 0)
    add.paste(255, (10, 10, 14, 14))
    handoff.leave_mask_edit(ctx, handoff.MaskEdit(add=add))
    image = gradient()
    image.paste((250, 250, 250), (100, 100, 140, 140))
    out = repair_damage(image, ctx)
    assert np.asarray(out)[120, 120].max() < 220


def test_alpha_is_kept() -> None:
    image = scratched("RGBA")
    alpha = Image.fromarray(np.tile(np.arange(320, dtype=np.uint8) % 251, (240, 1)), "L")
    image.putalpha(alpha)
    out = repair_damage(image, OpContext())
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


@pytest.mark.parametrize("size", [(1, 1), (3, 50), (31, 31), (64, 20), (200, 200)])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "I;16", "P"])
def test_any_size_and_mode_comes_back_in_its_size_and_mode(
    size: tuple[int, int], mode: str
) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(noise).convert(mode)  # pure noise: the worst case for a detector
    out = repair_damage(image, OpContext())
    assert out.size == image.size
    assert out.mode == image.mode
