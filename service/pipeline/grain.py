"""The scan's grain and its texture below the answer's resolution, and how much of either the
full-size pass keeps.

Both are measured in the full-resolution bands of `views` (the grid averages them away), as the
luminance spread inside each grid cell, in output levels:

- the *grain* is that spread where the answer is smoothest (in a sky or a cheek what the scan
  holds inside one of the answer's pixels is grain); a pixel-difference estimate of white noise
  caps it, since a picture that is all texture has no smooth place to look;
- the *usual texture* around each place (print, fabric, fur) is the median spread over a wide
  window, so a speck of dust is not counted as usual where it lies.

The full-size pass removes the grain from the scan's detail with a local Wiener shrink (Lee's
filter): each detail pixel is scaled by max(0, 1 − σ²/v), v being the detail's energy over 5×5
pixels (in mean absolute values, see `wiener_table`). Where the scan has texture, v ≫ σ² and
the detail passes whole; where it is flat, v ≈ σ² and the grain goes. Unlike a fixed coring
threshold, low-contrast texture survives.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

WIENER_WINDOW = 5
WIENER_UNIT = 32  # the grain's mean |detail| is mapped to this 8-bit level
MEAN_ABS = math.sqrt(2 / math.pi)
TYPICAL_WINDOW = 0.03  # of the picture's longer side: wide enough that damage is a minority
SMOOTH_SHARE = 25  # percent of the answer's pixels taken as its smooth places
# Grain blurred by the film and the optics, then smoothed by JPEG, shows 3–4× its pixel-difference
# estimate; five times that only catches a "smooth" place that was texture after all.
CAP = 5.0


def span(luma: np.ndarray) -> np.ndarray:
    """The local range (3×3 max − min) of a float32 image."""
    kernel = np.ones((3, 3), np.uint8)
    out: np.ndarray = cv2.dilate(luma, kernel) - cv2.erode(luma, kernel)
    return out


def grain_level(
    spread: np.ndarray,
    rows: np.ndarray,
    grid: tuple[int, int],
    answer_span: np.ndarray,
    white: float,
) -> float:
    """The grain's sigma in the detail band (output levels).

    `spread` is `views.block_spread` (n×2×cols), `rows` the grid row each band starts at, `grid`
    the grid's (w, h), `answer_span` the answer's local range at the plan size, `white` the
    white-noise estimate. Film grain is not white: that estimate sees only part of it.
    """
    n, _, cols = spread.shape
    h, w = answer_span.shape
    grid_rows = (rows[:, None] + np.arange(2)[None, :]).ravel()
    # Grid cell → the plan pixel it falls in (the grid is the plan, slightly larger).
    ys = np.minimum(h - 1, (grid_rows * h) // max(1, grid[1])).astype(np.int64)
    xs = np.minimum(w - 1, (np.arange(cols) * w) // max(1, grid[0])).astype(np.int64)
    at = answer_span[ys][:, xs]
    smooth = at <= np.percentile(answer_span[::4, ::4], SMOOTH_SHARE)
    values = spread.reshape(n * 2, cols)[smooth]
    if values.size == 0:
        return white
    measured = float(np.median(values))
    return min(measured, CAP * white) if white > 0 else measured


def usual_texture(spread: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The median spread over a wide window around each place, at `size` (w, h), float32.

    The window is TYPICAL_WINDOW of the picture wide and three bands tall (the band and its
    neighbours: ~5 % of the height), so a page of print counts as busy between its lines too.
    """
    n, _, cols = spread.shape
    window = max(1, round(TYPICAL_WINDOW * cols * max(size) / size[0]))
    cells = max(1, -(-cols // window))
    # Edge cells are filled from the picture's own last columns and bands.
    padded = np.pad(spread, ((1, 1), (0, 0), (0, cells * window - cols)), mode="edge")
    blocks = padded.reshape(n + 2, 2, cells, window).transpose(0, 2, 1, 3).reshape(n + 2, cells, -1)
    tall = np.concatenate([blocks[:-2], blocks[1:-1], blocks[2:]], axis=2)
    usual = np.median(tall, axis=2).astype(np.float32)
    out: np.ndarray = cv2.resize(usual, size, interpolation=cv2.INTER_LINEAR)
    return out


@functools.cache
def wiener_table() -> np.ndarray:
    """8-bit local mean |detail| (the grain's at WIENER_UNIT) → max(0, 1 − (grain / it)²), ×255.

    Lee's weight 1 − σ²/v written with mean absolute values, which are cheaper to sum in
    8 bits and less swayed by one strong pixel: for Gaussian values mean |x| = σ·√(2/π).
    """
    m = np.arange(256, dtype=np.float64)
    weight = np.clip(1.0 - (WIENER_UNIT / np.maximum(m, 1e-9)) ** 2, 0.0, 1.0)
    out: np.ndarray = np.rint(255 * weight).astype(np.uint8)
    return out


def wiener(magnitude: np.ndarray, sigma: float) -> np.ndarray:
    """The Wiener weight (uint8, ×255) for detail of `magnitude` (|detail|, uint8) with grain
    of `sigma` grey levels."""
    window = WIENER_WINDOW * WIENER_WINDOW
    total = cv2.boxFilter(magnitude, cv2.CV_16U, (WIENER_WINDOW, WIENER_WINDOW), normalize=False)
    typical = window * sigma * MEAN_ABS
    scaled = cv2.convertScaleAbs(total, alpha=WIENER_UNIT / max(typical, 1e-6))
    out: np.ndarray = cv2.LUT(scaled, wiener_table())
    return out


@functools.cache
def left_after(share: float) -> float:
    """What is left of unit white grain after the Wiener shrink at `share` × its sigma."""
    if share <= 0:
        return 1.0
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 16, (192, 192))
    magnitude = np.clip(np.rint(np.abs(noise)), 0, 255).astype(np.uint8)
    weight = wiener(magnitude, 16 * share).astype(np.float64) / 255
    kept = noise * weight
    return float(kept[8:-8, 8:-8].std() / noise[8:-8, 8:-8].std())
