"""The structure of a hole: diffused in from its rim, soft deep inside, nothing else touched."""

from __future__ import annotations

import cv2
import numpy as np

from service.pipeline.damage import structure


def test_deep_inside_a_torn_corner_the_structure_has_no_streaks() -> None:
    rng = np.random.default_rng(0)
    blobs = cv2.GaussianBlur(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8), (0, 0), 4)
    image = cv2.normalize(blobs, None, 0, 255, cv2.NORM_MINMAX)
    hole = np.zeros((400, 400), bool)
    hole[:220, :220] = True
    square = np.ones((81, 81), np.uint8)
    deep = cv2.erode(hole.astype(np.uint8), square, borderType=cv2.BORDER_REPLICATE) > 0

    def streaks(a: np.ndarray) -> float:
        f = a.astype(np.float32)
        return float((f - cv2.GaussianBlur(f, (0, 0), 6))[deep].std())

    plain = cv2.inpaint(image, hole.astype(np.uint8), 3, cv2.INPAINT_NS)
    ours = structure.diffused(image, hole, int(hole.sum()))
    assert streaks(ours) < 0.25 * streaks(plain)
    assert np.array_equal(ours[~hole], image[~hole])


def test_a_very_large_hole_is_diffused_at_a_reduced_scale_and_touches_nothing_else() -> None:
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (1300, 1300, 3), dtype=np.uint8), (0, 0), 8)
    hole = np.zeros((1300, 1300), bool)
    hole[:700, :700] = True  # more than STRUCTURE_SIDE² pixels
    out = structure.diffused(image, hole, int(hole.sum()))
    assert np.array_equal(out[~hole], image[~hole])
    rim = image[700:720, :700].astype(np.float32).mean(axis=(0, 1))
    assert np.abs(out[680:700, :700].astype(np.float32).mean(axis=(0, 1)) - rim).max() < 12
