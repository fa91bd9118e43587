"""Drift between a model's answer and the scan: small drift is corrected before merging; a
re-framed, mirrored or unrelated answer is not merged, asks for review, and the brush's
original still lines up with what comes back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from service.pipeline import align, transforms
from service.pipeline.ops.merge import REASONS
from tests.pipeline.fullres_support import aged, astronaut, detail, merged, perfect
from tests.pipeline.pipeline_photos import photo, ssim


@pytest.fixture(scope="module")
def clean() -> Image.Image:
    return astronaut(768)


@pytest.fixture(scope="module")
def scan(clean: Image.Image) -> Image.Image:
    return aged(clean)


def moved(im: Image.Image, dx: float, dy: float, zoom: float = 1.0) -> Image.Image:
    """`im` with its content moved right by dx, down by dy and enlarged by `zoom` (centre kept)."""
    w, h = im.size
    cx, cy = w / 2, h / 2
    a = 1 / zoom
    data = (a, 0, cx - a * (cx + dx), 0, a, cy - a * (cy + dy))
    return im.transform(im.size, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)


def structure_match(a: Image.Image, b: Image.Image) -> float:
    grey = [np.asarray(im.convert("L").resize((256, 256)), np.float32) for im in (a, b)]
    return align.correlation(align.structure(grey[0]), align.structure(grey[1]))


def test_an_answer_shifted_by_a_few_pixels_is_realigned(
    clean: Image.Image, scan: Image.Image
) -> None:
    answer = perfect(clean, 4)
    straight, _, _ = merged(answer, scan)
    out, found, log = merged(moved(answer, 3, -2), scan)
    drift = found.measurements["drift"]
    assert drift["kind"] == "small"
    assert found.review == []
    assert drift["dx_px"] == pytest.approx(3, abs=0.3)
    assert drift["dy_px"] == pytest.approx(-2, abs=0.3)
    # Corrected, not ghosted: as good as the merge of an answer that never moved.
    assert ssim(out, clean) > ssim(straight, clean) - 0.015
    assert detail(out, clean) > detail(straight, clean) - 0.03
    assert log == []  # the result is in the scan's frame: nothing for the brush to follow


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda im: moved(im, 0, 0, zoom=1.15), REASONS["reframed"]),
        (lambda im: moved(im, 0.09 * im.width, 0), REASONS["reframed"]),
        (lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), REASONS["mirrored"]),
    ],
    ids=["zoomed", "shifted-far", "mirrored"],
)
def test_a_reframed_or_mirrored_answer_is_not_merged_and_asks_for_review(
    clean: Image.Image, scan: Image.Image, change: object, reason: str
) -> None:
    answer = change(perfect(clean, 4))  # type: ignore[operator]
    out, found, log = merged(answer, scan)
    assert found.review == [reason]
    assert found.measurements["drift"]["kind"] in ("reframed", "mirrored")
    # The safe result: the answer enlarged as it is, no scan detail ghosting over it.
    plain = answer.resize(scan.size, Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(out), np.asarray(plain))
    # Its geometry is recorded, so the brush's original lines up with it.
    assert [t.kind for t in log] == ["warp"]
    assert structure_match(transforms.replay(scan, log), out) > 0.7
    assert structure_match(scan, out) < 0.5


def test_an_unrelated_answer_is_not_merged_and_asks_for_review(scan: Image.Image) -> None:
    other = photo("coffee").resize((192, 192))
    out, found, _ = merged(other, scan)
    assert found.review == [REASONS["unmatched"]]
    assert out.size == scan.size


def test_a_warp_in_unit_coordinates_holds_at_any_size() -> None:
    im = astronaut(400)
    shift = [[1.0, 0.0, 0.1], [0.0, 1.0, 0.0]]  # output x samples input x + 10 % of the width
    log = [transforms.Transform("warp", {"matrix": shift, "size": [400, 400]})]
    out = np.asarray(transforms.replay(im, log), np.int16)
    assert np.abs(out[:, :300] - np.asarray(im, np.int16)[:, 40:340]).max() <= 1
    # A resize before the warp is absorbed: the original is not shrunk and enlarged first.
    both = [transforms.Transform("resize", {"size": [50, 50]}), *log]
    assert np.array_equal(np.asarray(transforms.replay(im, both)), out.astype(np.uint8))


def test_a_blank_picture_has_nothing_to_line_up_and_is_merged_without_review() -> None:
    scan = Image.new("RGB", (400, 300), (100, 90, 80))
    out, found, _ = merged(Image.new("RGB", (100, 75), (120, 110, 100)), scan)
    assert found.review == []
    assert found.measurements["drift"]["kind"] == "featureless"
    assert np.abs(np.asarray(out, np.float32) - (120, 110, 100)).max() <= 2  # the model's tone
