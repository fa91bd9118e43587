"""Where the model repaired damage, found by comparing its answer with the tone-matched scan.

Detail that the scan has and the answer lacks is usually the answer's blur: that detail is
what the merge puts back. Damage is the exception, and it looks different: the model *removed*
a local anomaly (a speck, a scratch, a crack, a torn corner), so

- the answer differs from the tone-matched scan by far more than the texture around it varies
  (a scratch across a cheek, not the pores of the cheek: a model that smooths skin is not
  "repairing" it), and
- the answer is locally flatter there than the scan (a speck gone, not an edge blurred or a
  pixel of drift, both of which leave the answer as busy as the scan), and
- the two do not show the same structure there: an edge a model redrew sharper or softer,
  with a halo, differs from the scan as much as a speck does but correlates with it (left
  in the mask, every edge would lose the scan's detail in blotches).

Damage below the answer's resolution (a one-pixel speck in a one-megapixel answer) leaves no
trace at that size; it is caught at full size, in the merge, as a spike far outside the
answer's local range (`allowance`). The offline damage detector's mask, when it ran, is added.
"""

from __future__ import annotations

import cv2
import numpy as np

from service.pipeline import grain, views

Z_START, Z_FULL = 1.5, 3.0  # residual / (1.5 × local texture + grain): maybe, then surely a repair
MIN_RESIDUAL = 6.0  # grey levels: less is tone noise, whatever the texture
FLATTER = 0.6  # the answer's local spread below this fraction of the scan's
# Detail may stray from the answer by this share of the answer's local range, or this many
# times the scan's usual spread there, plus a few grey levels.
ALLOW_SPAN, ALLOW_BUSY, ALLOW_BASE = 0.6, 5.0, 3.0
ALIKE = 0.75  # local correlation (5×5) above which scan and answer show the same structure


def _spread(a: np.ndarray, k: int = 3) -> np.ndarray:
    """Local standard deviation over k×k."""
    mean = cv2.blur(a, (k, k))
    out: np.ndarray = np.sqrt(np.maximum(cv2.blur(a * a, (k, k)) - mean * mean, 0))
    return out


def _alike(a: np.ndarray, b: np.ndarray, k: int = 5) -> np.ndarray:
    """Local normalised cross-correlation of two images over k×k (−1…1; 0 where either is
    flat)."""
    ma, mb = cv2.blur(a, (k, k)), cv2.blur(b, (k, k))
    cov = cv2.blur(a * b, (k, k)) - ma * mb
    va = np.maximum(cv2.blur(a * a, (k, k)) - ma * ma, 0)
    vb = np.maximum(cv2.blur(b * b, (k, k)) - mb * mb, 0)
    out: np.ndarray = cov / (np.sqrt(va * vb) + 1.0)
    return out


def _texture(luma: np.ndarray, k: int) -> np.ndarray:
    """The usual size of local detail around each pixel, ignoring the few outliers (damage)."""
    hp = np.abs(luma - cv2.GaussianBlur(luma, (0, 0), 1.0))
    u8 = cv2.convertScaleAbs(hp, alpha=4.0)  # 1/4 grey level resolution is plenty
    step = k // 7
    if step >= 2:
        # A median over a wide window is as well read from every step-th pixel (still some 50
        # of them), the field enlarged back: it is broad by construction.
        h, w = u8.shape
        u8 = cv2.medianBlur(np.ascontiguousarray(u8[::step, ::step]), (k // step) | 1)
        u8 = cv2.resize(u8, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        u8 = cv2.medianBlur(u8, min(k | 1, 255))
    out: np.ndarray = u8.astype(np.float32) * (1.4826 / 4)
    return out


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean over channels of (a − b)², h×w float32; `b` is overwritten."""
    diff = np.subtract(a, b, out=b)
    np.multiply(diff, diff, out=diff)
    return views.luma(diff)


def repair_mask(
    tone_matched: np.ndarray, answer: np.ndarray, answer_l: np.ndarray, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Soft mask (0…1, h×w float32) of where the answer repaired the scan, and the scan's
    luminance.

    `tone_matched` is the scan at the answer's size with the answer's tone (h×w×C float32,
    used up: it holds the difference afterwards, a megapixel answer's worth of memory less);
    `answer_l` the answer's luminance (`views.luma`, which the caller keeps too); `noise` the
    scan's grain at that size, in grey levels.
    """
    scan_l = views.luma(tone_matched)
    residual = np.sqrt(_distance(answer, tone_matched))
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
    # Unless both show the same structure there: an edge the model drew sharper or softer,
    # with a halo or a pixel off, is the same edge (and its detail is the scan's to give).
    flatter &= _alike(scan_l, answer_l) < ALIKE
    mask = (likely * flatter).astype(np.float32)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    out: np.ndarray = cv2.GaussianBlur(mask, (0, 0), 0.8)
    return np.clip(out * 1.5, 0, 1), scan_l


def allowance(answer_luma: np.ndarray, usual: np.ndarray) -> np.ndarray:
    """How far (grey levels) the scan's fine detail may stray from the answer at each place.

    Real detail stays within what is usual around it: within the answer's local range (an edge
    in the scan is an edge, softer, in the answer) or within how busy the scan usually is there
    (`usual`, see `grain.usual_texture`: print, fabric, fur). A speck of dust or a hairline
    scratch below the answer's resolution stands far out of both.
    """
    out: np.ndarray = np.maximum(ALLOW_SPAN * grain.span(answer_luma), ALLOW_BUSY * usual)
    return out + ALLOW_BASE


def add_damage(mask: np.ndarray, damage: np.ndarray | None) -> np.ndarray:
    """The union with the offline detector's mask (already at the mask's size, 0…255)."""
    if damage is None:
        return mask
    out: np.ndarray = np.maximum(mask, np.clip(damage.astype(np.float32) / 255.0, 0, 1))
    return out
