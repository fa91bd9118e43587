"""The merge's full-size pass: strips without seams, the result written into the scan's own
memory only when nothing else holds the scan, and a grid that stays on the scan's pixels."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from PIL import Image

from service.pipeline import compose, handoff
from service.pipeline.memory import sole_reference
from service.pipeline.ops.merge import merge_detail
from service.pipeline.registry import OpContext
from tests.pipeline.fullres_support import aged, astronaut, merged, perfect


@pytest.fixture(scope="module")
def clean() -> Image.Image:
    return astronaut(700)


@pytest.fixture(scope="module")
def scan(clean: Image.Image) -> Image.Image:
    return aged(clean)


def test_strips_of_any_height_give_the_same_picture(
    clean: Image.Image, scan: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = perfect(clean, 4.6)  # a factor that is no whole number: the grid step is 4
    results = []
    for rows in (8, 96, 10_000):  # a strip of 10,000 rows is the whole picture at once
        monkeypatch.setattr(compose, "STRIP_ROWS", rows)
        monkeypatch.setattr(compose, "STRIP_ROWS_APART", rows)
        out, _, _ = merged(answer, scan)
        results.append(np.asarray(out))
    assert np.array_equal(results[0], results[2])
    assert np.array_equal(results[1], results[2])


def test_a_scan_someone_still_holds_is_left_untouched(
    clean: Image.Image, scan: Image.Image
) -> None:
    before = np.asarray(scan).copy()
    out, _, _ = merged(perfect(clean, 4), scan)  # the test keeps `scan`
    assert out is not scan
    assert np.array_equal(np.asarray(scan), before)


def test_a_scan_nobody_else_holds_takes_the_result_in_its_own_memory(
    clean: Image.Image, scan: Image.Image
) -> None:
    expected, _, _ = merged(perfect(clean, 4), scan)
    ctx = OpContext(original_size=scan.size)
    handoff.leave(ctx, scan.copy(), "stand-in")  # only the context holds this copy
    held = ctx.extra[handoff.BEFORE_MODEL].scan
    gone = weakref.ref(held)
    del held
    out = merge_detail(perfect(clean, 4), ctx)
    gc.collect()
    assert gone() is out  # the very image the model step left, now holding the result
    assert np.array_equal(np.asarray(out), np.asarray(expected))


def test_only_a_sole_reference_counts_as_sole() -> None:
    image = Image.new("RGB", (4, 4))
    assert sole_reference(image)
    also = [image]
    assert not sole_reference(image)
    del also


def test_a_perfect_answer_at_an_uneven_factor_shows_no_drift(clean: Image.Image) -> None:
    # 700 / 6.3 leaves the grid's last cells partly outside the scan: the small view of the
    # scan must still lie exactly over it, or every merge would be shifted and ghosted.
    scan = aged(clean)
    _, found, _ = merged(perfect(clean, 6.3), scan)
    drift = found.measurements["drift"]
    assert abs(drift["dx_px"]) < 0.1
    assert abs(drift["dy_px"]) < 0.1
    assert abs(drift["scale"] - 1) < 0.003
