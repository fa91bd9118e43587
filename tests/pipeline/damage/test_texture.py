"""Quilted texture in a hole: the same repair every time, in every depth, only in the hole."""

from __future__ import annotations

import cv2
import numpy as np

from service.pipeline.damage import texture
from tests.pipeline.damage import made_damage as md
from tests.pipeline.pipeline_photos import photo


def test_the_same_hole_gets_the_same_texture() -> None:
    crop = np.asarray(photo("grass"))[..., None].copy()
    rng = np.random.default_rng(1)
    hole = md.hole(rng, crop.shape[:2], 50)
    first = texture.fill_hole(crop.copy(), hole, hole, seed=3)
    again = texture.fill_hole(crop.copy(), hole, hole, seed=3)
    assert np.array_equal(first, again)
    assert np.array_equal(first[~hole], crop[~hole])


def test_sixteen_bit_grain_goes_on_in_a_hole() -> None:
    crop = (np.asarray(photo("gravel")).astype(np.uint16) * 257)[..., None]
    rng = np.random.default_rng(2)
    hole = md.hole(rng, crop.shape[:2], 60)
    out = texture.fill_hole(crop.copy(), hole, hole).astype(np.float32)
    inner = cv2.erode(hole.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool) & ~hole

    def grain(a: np.ndarray, where: np.ndarray) -> float:
        return float((a - cv2.GaussianBlur(a, (0, 0), 1.5).reshape(a.shape))[where].std())

    assert 0.5 <= grain(out, inner) / grain(crop.astype(np.float32), ring) <= 1.6
