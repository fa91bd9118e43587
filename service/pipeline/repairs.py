"""Where the model repaired damage, found by comparing its answer with the tone-matched scan.

Detail that the scan has and the answer lacks is usually the answer's blur: that detail is
what the merge puts back. Damage is the exception, and it looks different: the model *removed*
a local anomaly (a speck, a scratch, a crack, a torn corner), so

- the answer differs from the tone-matched scan by far more than the texture around it varies
  (a scratch across a cheek, not the pores of the cheek: a model that smooths skin is not
  "repairing" it), and
- the answer is locally flatter there than the scan (a speck gone, not an edge blurred or a
  pixel of drift, both of which leave the answer as busy as the scan).

Damage below the answer's resolution (a one-pixel speck in a one-megapixel answer) leaves no
trace at that size; it is caught at full size, in the merge, as a spike far outside the
answer's local range (`allowance`). The offline damage detector's mask, when it ran, is added.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from service.pipeline.ops._common import ordered_map

Z_START, Z_FULL = 1.5, 3.0  # residual / (1.5 × local texture + grain): maybe, then surely a repair
MIN_RESIDUAL = 6.0  # grey levels: less is tone noise, whatever the texture
FLATTER = 0.6  # the answer's local spread below this fraction of the scan's
# Detail may stray from the answer by this share of the answer's local range, or this many
# times the scan's usual spread there, plus a few grey levels.
ALLOW_SPAN, ALLOW_BUSY, ALLOW_BASE = 0.6, 5.0, 3.0


def _luma(a: np.ndarray) -> np.ndarray:
    out: np.ndarray = a.mean(axis=2) if a.ndim == 3 else a
    return out.astype(np.float32)


def _spread(a: np.ndarray, k: int = 3) -> np.ndarray:
    """Local standard deviation over k×k."""
    mean = cv2.blur(a, (k, k))
    out: np.ndarray = np.sqrt(np.maximum(cv2.blur(a * a, (k, k)) - mean * mean, 0))
    return out


def _texture(luma: np.ndarray, k: int) -> np.ndarray:
    """The usual size of local detail around each pixel, ignoring the few outliers (damage)."""
    hp = np.abs(luma - cv2.GaussianBlur(luma, (0, 0), 1.0))
    u8 = np.clip(hp * 4, 0, 255).astype(np.uint8)  # 1/4 grey level resolution is plenty
    k = k | 1
    out: np.ndarray = cv2.medianBlur(u8, min(k, 255)).astype(np.float32) * (1.4826 / 4)
    return out


def repair_mask(tone_matched: np.ndarray, answer: np.ndarray, noise: float) -> np.ndarray:
    """Soft mask (0…1, h×w float32) of where the answer repaired the scan.

    `tone_matched` is the scan at the answer's size with the answer's tone; `noise` the scan's
    grain at that size, in grey levels.
    """
    residual = np.sqrt(((answer - tone_matched) ** 2).mean(axis=2)).astype(np.float32)
    scan_l, answer_l = _luma(tone_matched), _luma(answer)
    # Wide enough that a scratch or a speck is a minority of the window around it.
    k = max(9, round(0.03 * max(residual.shape)))
    texture = _texture(scan_l, k)
    z = residual / (1.5 * texture + noise + 2.0)
    likely = np.clip((z - Z_START) / (Z_FULL - Z_START), 0, 1)
    likely *= residual > MIN_RESIDUAL
    flatter = _spread(answer_l) < FLATTER * _spread(scan_l) + 1.0
    # Where the scan itself is the odd one out (a blob, a line) the answer is flatter at the
    # spot or right beside it; a 3×3 look either way tolerates a pixel of drift.
    flatter = cv2.dilate(flatter.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    mask = (likely * flatter).astype(np.float32)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    out: np.ndarray = cv2.GaussianBlur(mask, (0, 0), 0.8)
    return np.clip(out * 1.5, 0, 1)


def block_detail(scan: Image.Image, size: tuple[int, int], curve: np.ndarray) -> np.ndarray:
    """The scan's luminance spread inside each of the answer's pixels (size `size`, h×w), in
    output levels (`curve`: 256 entries mapping scan luminance to the answer's).

    What the answer cannot show: how busy the scan is below its resolution. Measured in whole
    blocks of the largest integer size that fits an answer pixel, strip by strip.
    """
    width, height = scan.size
    b = max(1, int(width / size[0]), 1)
    if b == 1:
        return np.zeros((size[1], size[0]), np.float32)
    wb, rows = (width // b) * b, b * max(1, 128 // b)

    def block(y0: int) -> np.ndarray:
        y1 = min((height // b) * b, y0 + rows)
        bands = np.asarray(scan.crop((0, y0, wb, y1)))
        if bands.ndim == 3 and bands.shape[2] >= 3:
            bands = cv2.cvtColor(np.ascontiguousarray(bands[..., :3]), cv2.COLOR_RGB2GRAY)
        elif bands.ndim == 3:  # LA
            bands = np.ascontiguousarray(bands[..., 0])
        luma = cv2.LUT(bands, curve.reshape(1, 256))
        cells = ((wb // b), (y1 - y0) // b)
        mean = cv2.resize(luma, cells, interpolation=cv2.INTER_AREA)
        square = cv2.resize(luma * luma, cells, interpolation=cv2.INTER_AREA)
        spread: np.ndarray = np.sqrt(np.maximum(square - mean * mean, 0))
        return spread

    parts = list(ordered_map(block, range(0, (height // b) * b, rows)))
    grid = np.concatenate(parts, axis=0) if parts else np.zeros((1, 1), np.float32)
    out: np.ndarray = cv2.resize(grid, size, interpolation=cv2.INTER_AREA)
    return out


def allowance(answer: np.ndarray, busy: np.ndarray) -> np.ndarray:
    """How far (grey levels) the scan's fine detail may stray from the answer at each place.

    Real detail stays within what is usual around it: within the answer's local range (an edge
    in the scan is an edge, softer, in the answer) or within how busy the scan usually is there
    (`busy`: print, fabric, fur). A speck of dust or a hairline scratch below the answer's
    resolution stands far out of both. The usual business is a median over a wide window, so
    the damage itself does not count as usual.
    """
    luma = _luma(answer)
    kernel = np.ones((3, 3), np.uint8)
    span = cv2.dilate(luma, kernel) - cv2.erode(luma, kernel)
    k = max(9, round(0.03 * max(luma.shape))) | 1
    usual = cv2.medianBlur(np.clip(busy * 4, 0, 255).astype(np.uint8), min(k, 255))
    typical = usual.astype(np.float32) / 4
    out: np.ndarray = np.maximum(ALLOW_SPAN * span, ALLOW_BUSY * typical) + ALLOW_BASE
    return out


def add_damage(mask: np.ndarray, damage: np.ndarray | None) -> np.ndarray:
    """The union with the offline detector's mask (already at the mask's size, 0…255)."""
    if damage is None:
        return mask
    out: np.ndarray = np.maximum(mask, np.clip(damage.astype(np.float32) / 255.0, 0, 1))
    return out
