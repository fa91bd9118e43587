"""Framing of the print inside the scan: the flatbed border around it and its skew.

Both detectors work on a thumbnail; the fix is one crop or one affine transform at full size,
so the scan is resampled at most once and no intermediate full-size copy is made.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from service.pipeline import transforms
from service.pipeline.ops._common import grey_array, thumbnail
from service.pipeline.registry import OpContext, register
from service.pipeline.resample import inscribed_size, rotate_crop

BORDER_TOL = 14.0  # grey levels: a flatbed lid is flat, JPEG noise on it stays well inside this
BORDER_LINE_MATCH = 0.9  # a row/column is background when this share of it matches
BORDER_MAX_SHARE = 0.4  # never cut more than this share of a side: then it was not a border
MIN_SKEW = 0.3  # degrees; below this a correction would only soften the scan
MAX_SKEW = 10.0
SKEW_MIN_GAIN = 1.15  # the best angle must align edges this much better than no rotation
BILINEAR_MIN_PIXELS = 12_000_000  # from here on a scan is oversampled enough for bilinear


def _border_value(g: np.ndarray) -> float | None:
    """The scanner background level, when the scan's outermost frame is mostly one flat tone."""
    frame = np.concatenate([g[:2].ravel(), g[-2:].ravel(), g[:, :2].ravel(), g[:, -2:].ravel()])
    value = float(np.median(frame))
    if np.mean(np.abs(frame - value) < BORDER_TOL) < 0.6:
        return None
    return value


def _run(match: np.ndarray) -> int:
    """How many leading lines are background."""
    bad = np.flatnonzero(match < BORDER_LINE_MATCH)
    return int(bad[0]) if bad.size else match.size


def find_border_box(g: np.ndarray, value: float | None = None) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom) of the print inside the grey thumbnail `g`, or None."""
    if value is None:
        value = _border_value(g)
    if value is None:
        return None
    h, w = g.shape
    bg = np.abs(g - value) < BORDER_TOL
    rows, cols = bg.mean(axis=1), bg.mean(axis=0)
    top, bottom = _run(rows), _run(rows[::-1])
    left, right = _run(cols), _run(cols[::-1])
    if max(top, bottom) > h * BORDER_MAX_SHARE or max(left, right) > w * BORDER_MAX_SHARE:
        return None
    sides = sum(n >= 2 for n in (top, bottom, left, right))
    # A real border surrounds the print on at least two sides and is a flat field; one flat edge
    # is far more likely a sky or a wall in the photo itself.
    if sides < 2:
        return None

    # One extra thumbnail pixel: the soft transition from lid to print edge is not photo.
    def pad(n: int) -> int:
        return n + 1 if n >= 2 else 0

    return pad(left), pad(top), w - pad(right), h - pad(bottom)


def _scale_box(
    box: tuple[int, int, int, int], sx: float, sy: float, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    w, h = size
    return (
        max(0, math.ceil(left * sx)),
        max(0, math.ceil(top * sy)),
        min(w, math.floor(right * sx)),
        min(h, math.floor(bottom * sy)),
    )


@register("remove_border", "Crop the scanner's flat background around the print")
def remove_border(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Cut away the lid or backing around the print; the same image when no border is found."""
    thumb = thumbnail(image)
    box = find_border_box(grey_array(thumb))
    if box is None:
        return image
    sx, sy = image.width / thumb.width, image.height / thumb.height
    del thumb  # the crop is the step's peak: nothing else alive but the scan and its copy
    frame = _scale_box(box, sx, sy, image.size)
    transforms.record("crop", box=frame)
    return image.crop(frame)


def _edge_points(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates of the strongest horizontal-ish and vertical-ish edges."""
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    gx[:, 1:-1] = g[:, 2:] - g[:, :-2]
    gy[1:-1] = g[2:] - g[:-2]
    mag = np.hypot(gx, gy)
    threshold = max(float(np.percentile(mag, 96)), 12.0)
    strong = mag > threshold
    horizontal = strong & (np.abs(gy) > 2 * np.abs(gx))
    vertical = strong & (np.abs(gx) > 2 * np.abs(gy))
    hy, hx = np.nonzero(horizontal)
    vy, vx = np.nonzero(vertical)
    f32 = np.float32
    return hx.astype(f32), hy.astype(f32), vx.astype(f32), vy.astype(f32)


def _alignment(u: np.ndarray, v: np.ndarray, degrees: np.ndarray, n_bins: int) -> np.ndarray:
    """Projection-profile sharpness of points (u along, v across the line) for each angle."""
    scores = np.zeros(len(degrees))
    if u.size == 0:
        return scores
    for i, d in enumerate(degrees):
        t = math.tan(math.radians(d))
        proj = v - u * t
        hist = np.bincount(
            np.clip(proj + n_bins / 4, 0, n_bins - 1).astype(np.int64), minlength=n_bins
        )
        scores[i] = float(np.dot(hist, hist))
    return scores


def estimate_skew(g: np.ndarray) -> float:
    """The content's rotation in degrees (counter-clockwise), or 0.0 when unsure."""
    hx, hy, vx, vy = _edge_points(g)
    if hx.size + vx.size < 200:
        return 0.0
    n_bins = int(max(g.shape) * 1.5)

    def score(angles: np.ndarray) -> np.ndarray:
        # Rows of a counter-clockwise rotated print go up to the right: y = y0 - x·tan(a).
        total: np.ndarray = _alignment(hx, hy, -angles, n_bins) + _alignment(vy, vx, angles, n_bins)
        return total

    coarse = np.arange(-MAX_SKEW, MAX_SKEW + 1e-9, 0.25)
    s = score(coarse)
    best = float(coarse[int(np.argmax(s))])
    fine = np.arange(best - 0.25, best + 0.25 + 1e-9, 0.05)
    fs = score(fine)
    best = float(fine[int(np.argmax(fs))])
    base = float(score(np.array([0.0]))[0])
    if base > 0 and float(fs.max()) < SKEW_MIN_GAIN * base:
        return 0.0
    if abs(best) > MAX_SKEW - 0.25:
        return 0.0  # the best is the edge of the search: no real peak inside it
    return best


@register("deskew", "Straighten a print scanned slightly askew (up to ±10°)")
def deskew(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Rotate the print level and crop the corners the rotation exposes; same image when level."""
    thumb = thumbnail(image, 800)
    g = grey_array(thumb)
    angle = estimate_skew(g)
    if abs(angle) < MIN_SKEW:
        return image
    # Crop to the inscribed rectangle, and tighter still when the rotated thumbnail shows
    # background left over from the scanner (the corners of a tilted print).
    w, h = image.size
    iw, ih = inscribed_size(w, h, -angle)
    box = ((w - iw) / 2 + 1, (h - ih) / 2 + 1, (w + iw) / 2 - 1, (h + ih) / 2 - 1)
    value = _border_value(g)
    if value is not None:
        rot = grey_array(
            rotate_crop(
                thumb.convert("L"), -angle, (0, 0, thumb.width, thumb.height), fill=round(value)
            )
        )
        inner = find_border_box(rot, value)
        if inner is not None:
            sx, sy = w / thumb.width, h / thumb.height
            box = (
                max(box[0], inner[0] * sx),
                max(box[1], inner[1] * sy),
                min(box[2], inner[2] * sx),
                min(box[3], inner[3] * sy),
            )
        del rot
    del thumb, g
    # A large scan samples the print far finer than its detail, so bilinear resampling loses
    # nothing visible there and is three times faster than bicubic; a small image keeps bicubic.
    large = w * h >= BILINEAR_MIN_PIXELS
    resample = Image.Resampling.BILINEAR if large else Image.Resampling.BICUBIC
    transforms.record("rotate_crop", degrees=-angle, box=box, resample=int(resample))
    return rotate_crop(image, -angle, box, resample=resample)
