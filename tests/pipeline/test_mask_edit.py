"""The damage-mask brush's edit: what it accepts, what it leaves for the detector's step, and
that the detector's step of the same run (a stand-in here) sees it, when run as hand edits are:
before the chain."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from service.config.catalog import Chain, Step
from service.config.settings import Settings
from service.errors import InvalidEdit
from service.pipeline import aligned, handoff, registry
from service.pipeline.ops.mask_edit import damage_mask
from service.pipeline.registry import OpContext
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor
from tests.damage_op import OP, box_mask
from tests.images import photo


def png_url(im: Image.Image) -> str:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def painted(size: tuple[int, int], box: tuple[float, float, float, float]) -> str:
    """What the brush sends: white and opaque where painted, transparent elsewhere."""
    alpha = box_mask(size, box)
    im = Image.new("RGBA", size, (255, 255, 255, 0))
    im.putalpha(alpha)
    return png_url(im)


def test_the_edit_is_a_manual_operation_offered_to_the_dashboard() -> None:
    assert registry.get("damage_mask").manual


def test_the_edit_changes_no_pixel_and_leaves_both_masks_for_the_detector() -> None:
    image, ctx = photo(96, 64), OpContext()
    out = damage_mask(
        image, ctx, add=painted((48, 32), (0, 0, 0.5, 1)), erase=painted((48, 32), (0.5, 0, 1, 1))
    )
    assert out is image
    edit = ctx.extra[handoff.DAMAGE_EDIT]
    assert isinstance(edit, handoff.MaskEdit)
    assert edit.add is not None
    assert edit.erase is not None
    assert edit.add.mode == edit.erase.mode == "L"
    assert np.asarray(edit.add)[:, :20].min() == 255  # the alpha channel is what counts
    assert np.asarray(edit.add)[:, 28:].max() == 0


def test_either_mask_may_be_absent_or_blank() -> None:
    ctx = OpContext()
    damage_mask(photo(32, 32), ctx, erase=painted((32, 32), (0, 0, 1, 1)))
    edit = ctx.extra[handoff.DAMAGE_EDIT]
    assert edit.add is None
    assert edit.erase is not None
    blank = OpContext()
    damage_mask(photo(32, 32), blank, add=png_url(Image.new("L", (32, 32))), erase=None)
    damage_mask(photo(32, 32), blank)
    assert handoff.DAMAGE_EDIT not in blank.extra  # nothing painted: nothing to correct


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"add": "data:image/jpeg;base64,AAAA"}, "damage_mask: add must be a PNG data URL"),
        ({"erase": 7}, "damage_mask: erase must be a PNG data URL"),
        ({"add": "data:image/png;base64,!!"}, "damage_mask: add is not a readable PNG"),
        ({"erase": "data:image/png;base64," + "A" * (3 * 1024 * 1024)}, "erase larger than 2 MB"),
    ],
)
def test_a_mask_that_is_not_a_png_data_url_is_refused_naming_it(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidEdit, match=message):
        damage_mask(photo(16, 16), OpContext(), **params)


def test_keep_original_keeps_its_own_messages() -> None:
    with pytest.raises(InvalidEdit, match=r"^keep_original: mask must be a PNG data URL"):
        registry.get("keep_original").func(photo(16, 16), OpContext(), mask=None)


def test_the_detector_applies_the_edit_scaled_to_its_frame_erase_winning() -> None:
    ctx = OpContext()
    # painted on a 100×50 view; the detector's frame is 400×200: only proportions matter
    damage_mask(
        photo(16, 16),
        ctx,
        add=painted((100, 50), (0.6, 0.6, 0.9, 0.9)),
        erase=painted((100, 50), (0.1, 0.1, 0.25, 0.4)),
    )
    detected = box_mask((400, 200))  # (0.1, 0.1)–(0.4, 0.4)
    edited = np.asarray(handoff.edited_mask(ctx, detected))
    assert edited[150, 300] == 255  # added
    assert edited[50, 60] == 0  # erased from the detected box
    assert edited[50, 140] == 255  # the rest of the box stays
    assert edited[10, 10] == 0
    assert edited[190, 390] == 0
    assert handoff.edited_mask(OpContext(), detected) is detected  # no edit: the same mask


async def test_hand_edits_and_the_chain_share_the_run_context(tmp_path: Path) -> None:
    src = tmp_path / "scan.png"
    photo(120, 80).save(src)
    chain = Chain("m", "m", "", (Step("local", OP),))
    runner, settings = ChainRunner({"local": LocalExecutor()}), Settings(data_dir=tmp_path)
    plain = await restore_image(src, chain, runner, settings, before_edge=60)
    erase_all = {"op": "damage_mask", "params": {"erase": painted((12, 8), (0, 0, 1, 1))}}
    edited = await restore_image(src, chain, runner, settings, edits=[erase_all], before_edge=60)
    assert plain.damage_mask is not None
    assert edited.damage_mask is not None
    assert plain.damage_mask.size == edited.damage_mask.size == (60, 40)  # the aligned before's
    assert plain.aligned_before is not None
    assert plain.aligned_before.size == (60, 40)
    assert np.asarray(plain.damage_mask).max() == 255
    assert np.asarray(edited.damage_mask).max() == 0  # the edit reached the detector's step
    assert [s.name for s in edited.run.steps] == ["damage_mask", OP]
    assert edited.run.steps[0].status == "skipped"  # it touched no pixel
    without = await restore_image(src, chain, runner, settings)  # the command line: no previews
    assert without.damage_mask is None


def test_the_mask_shown_keeps_a_thin_crack_visible_at_preview_size() -> None:
    full = Image.new("L", (1200, 800))
    full.paste(255, (600, 0, 601, 800))  # a one-pixel crack, reduced 4×
    shown = np.asarray(aligned.mask_view(full, (300, 200)))
    assert shown.shape == (200, 300)
    assert shown[:, 150].min() >= 200  # a quarter of a preview pixel, still bright
    assert shown[:, :149].max() == 0
    assert shown[:, 151:].max() == 0
