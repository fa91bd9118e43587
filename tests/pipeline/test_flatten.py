"""Folds are flattened, not inpainted: their ridge and trough go, the picture beneath stays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from service.pipeline.damage import flatten
from tests.pipeline.synthetic_damage import picture


def folded(clean: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """`clean` (grey, float) with a fold along `ends`: a lit ridge beside a shadowed trough."""
    h, w = clean.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    (x0, y0), (x1, y1) = ends
    n = np.array([-(y1 - y0), x1 - x0]) / np.hypot(x1 - x0, y1 - y0)
    d = (xx - x0) * n[0] + (yy - y0) * n[1]
    delta = 45 * np.exp(-((d + 1.5) ** 2) / 2.0) - 35 * np.exp(-((d - 1.5) ** 2) / 2.0)
    return np.clip(clean + delta, 0, 255)


@pytest.mark.parametrize("name", ["brick", "grass", "camera"])
def test_a_fold_is_taken_out_and_the_texture_beneath_kept(name: str) -> None:
    clean = np.asarray(picture(name).convert("L"), np.float32)
    ends = np.array([[30.0, 0.0], [470.0, 511.0]])
    hurt = np.rint(folded(clean, ends)).astype(np.uint8)
    band = np.abs(hurt.astype(np.float32) - clean) >= 4
    pixels = hurt.copy()
    tables = flatten.profiles(hurt, [flatten.Fold(ends, 6)])
    changed = flatten.flatten(pixels[:200], tables, band[:200])  # in two strips, as the
    changed += flatten.flatten(pixels[200:], tables, band[200:], top=200)  # step does
    before = np.abs(hurt - clean)[band].mean()
    after = np.abs(pixels - clean)[band].mean()
    assert changed == int(band.sum())
    assert 1 - after / before >= 0.6
    assert np.array_equal(pixels[~band], hurt[~band])


def test_no_folds_or_no_pixels_change_nothing() -> None:
    pixels = np.full((40, 50, 3), 120, np.uint8)
    grey = pixels[..., 0]
    fold = flatten.Fold(np.array([[0.0, 0.0], [49.0, 39.0]]), 4)
    tables = flatten.profiles(grey, [fold])
    assert flatten.flatten(pixels, [], np.ones((40, 50), bool)) == 0
    assert flatten.flatten(pixels, tables, np.zeros((40, 50), bool)) == 0
    assert (pixels == 120).all()
    Image.fromarray(pixels)  # still a valid picture


def test_a_fold_across_a_gradient_leaves_no_step() -> None:
    # Sky brightening steadily across the fold: the two sides differ, and the level beneath
    # the fold is the straight line between them, not their mean.
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    ends = np.array([[0.0, 40.0], [399.0, 260.0]])
    n = np.array([-(220.0), 399.0]) / np.hypot(399.0, 220.0)
    clean = 128 + 3.0 * (xx * n[0] + (yy - 40) * n[1])  # 3 grey levels a pixel across
    clean = np.clip(clean, 0, 255)
    hurt = np.rint(folded(clean, ends)).astype(np.uint8)
    band = (np.abs(hurt.astype(np.float32) - clean) >= 4) & (clean > 20) & (clean < 235)
    pixels = hurt.copy()
    flatten.flatten(pixels, flatten.profiles(hurt, [flatten.Fold(ends, 5)]), band)
    residual = np.abs(pixels.astype(np.float32) - np.rint(clean))[band]
    print(f"\nmean error left in the fold over a gradient: {residual.mean():.2f}")
    assert residual.mean() <= 2.0
