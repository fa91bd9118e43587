"""merge_detail: a model's small answer at the scan's size, the scan's detail kept, the
model's tone and repairs taken."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from service.errors import ConfigError
from service.pipeline import registry
from service.pipeline.registry import OpContext
from tests.pipeline.fullres_support import (
    aged,
    arr,
    astronaut,
    detail,
    merged,
    perfect,
    realistic,
)
from tests.pipeline.pipeline_photos import ssim


@pytest.fixture(scope="module")
def clean() -> Image.Image:
    return astronaut(768)


@pytest.fixture(scope="module")
def scan(clean: Image.Image) -> Image.Image:
    return aged(clean)


def test_a_perfect_small_answer_comes_back_sharper_than_a_resize(
    clean: Image.Image, scan: Image.Image
) -> None:
    answer = perfect(clean, 5)
    resized = answer.resize(scan.size, Image.Resampling.LANCZOS)  # what match_size did
    out, found, _ = merged(answer, scan)
    assert out.size == scan.size
    assert out.mode == "RGB"
    assert detail(out, clean) > 1.5 * detail(resized, clean)
    # The ageing's grain is heavy and white; cored, it costs no structural similarity.
    assert ssim(out, clean) > ssim(resized, clean) - 0.01
    assert found.review == []
    assert found.measurements["drift"]["kind"] == "small"


def test_the_damage_the_model_removed_does_not_come_back(
    clean: Image.Image, scan: Image.Image
) -> None:
    out, _, _ = merged(perfect(clean, 5), scan)
    # The dust and hairline scratches of the ageing stand far out of the clean picture ...
    damage = np.abs(arr(scan).mean(axis=2) - arr(clean).mean(axis=2)) > 90
    assert damage.sum() > 200
    # ... and almost none of them is still visible in the result.
    visible = np.abs(arr(out).mean(axis=2) - arr(clean).mean(axis=2)) > 60
    assert (visible & damage).sum() < 0.05 * damage.sum()


def test_an_imperfect_model_still_gives_the_scans_detail_and_its_own_tone(
    clean: Image.Image, scan: Image.Image
) -> None:
    answer = realistic(clean, 5)
    resized = answer.resize(scan.size, Image.Resampling.LANCZOS)
    out, _, _ = merged(answer, scan)
    assert detail(out, clean) > 1.8 * detail(resized, clean)
    # Tone and colour follow the model: at the model's own size, the result is its answer.
    back = arr(out.resize(answer.size, Image.Resampling.BOX))
    assert np.abs(back - arr(answer)).mean() < 4.0
    assert np.abs(back.mean(axis=(0, 1)) - arr(answer).mean(axis=(0, 1))).max() < 1.5


def test_edges_the_model_drew_sharper_are_not_taken_for_repairs(
    clean: Image.Image, scan: Image.Image
) -> None:
    # Halos along every edge differ from the scan as much as a speck does; the edge is still
    # the scan's, and so is its detail.
    _, plain, _ = merged(perfect(clean, 4), scan)
    sharpened = perfect(clean, 4).filter(ImageFilter.UnsharpMask(3, 200, 0))
    _, found, _ = merged(sharpened, scan)
    assert found.measurements["repaired_pct"] < 1.2 * plain.measurements["repaired_pct"]


def test_a_black_and_white_scan_stays_black_and_white(clean: Image.Image) -> None:
    grey = clean.convert("L")
    scan = aged(grey)
    out, _, _ = merged(perfect(grey, 4), scan)
    assert out.mode == "L"
    assert out.size == scan.size
    assert detail(out, grey) > detail(perfect(grey, 4).resize(scan.size), grey)


def test_a_colourised_answer_gives_colour_to_a_grey_scan(clean: Image.Image) -> None:
    scan = aged(clean.convert("L"))
    out, _, _ = merged(perfect(clean, 4), scan)  # the model answered in colour
    assert out.mode == "RGB"
    a = arr(out)
    assert np.abs(a[..., 0] - a[..., 2]).mean() > 10  # not grey
    assert detail(out, clean) > 1.3 * detail(perfect(clean, 4).resize(scan.size), clean)


def test_an_alpha_channel_is_kept(clean: Image.Image) -> None:
    scan = aged(clean).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(scan.size)
    scan.putalpha(alpha)
    out, _, _ = merged(perfect(clean, 4), scan)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_without_a_model_step_it_only_restores_the_size() -> None:
    small = Image.new("RGB", (60, 40), (10, 20, 30))
    out = registry.get("merge_detail").func(small, OpContext(original_size=(600, 400)))
    assert out.size == (600, 400)
    assert registry.get("merge_detail").func(small, OpContext(original_size=(60, 40))) is small


def test_a_grain_setting_out_of_range_is_a_clear_error(clean: Image.Image) -> None:
    with pytest.raises(ConfigError, match="grain"):
        registry.get("merge_detail").func(clean, OpContext(), grain=3)
    with pytest.raises(ConfigError, match="grain"):
        registry.get("merge_detail").func(clean, OpContext(), grain="lots")
