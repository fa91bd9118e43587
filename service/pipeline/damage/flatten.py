"""Taking a fold out: subtract its ridge and trough, keep the picture beneath.

A crease does not hide the picture the way a crack does: the emulsion is still there, lit
brighter on one side of the fold and shadowed on the other. Inpainting its band would throw
that picture away and guess it back (over texture, worse than leaving the fold). Instead the
fold's profile across its line — how much brighter or darker each offset is than the picture
on both sides — is measured along the fold, piece by piece (a fold is not equally sharp all
along), and subtracted from the pixels of its band. Where the picture itself varies, the
median over a piece keeps it out of the profile.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

SIDES = (3, 6)  # pixels beyond the band (× the scale) where the picture on each side is read
PIECE = 128  # pixels (× the scale) along the fold over which one profile is measured: long enough
# for texture to average out, short enough to follow a fold that fades along its length


@dataclass(frozen=True)
class Fold:
    """A fold as a straight line through the picture, and how far either side its band runs."""

    ends: np.ndarray  # two points (x, y) in the picture's pixels
    half_width: int  # pixels
    scale: int = 1  # pixels of the picture per pixel of the copy the fold was found on


def _frame(fold: Fold) -> tuple[float, float, float, float, float, float]:
    (x0, y0), (x1, y1) = (float(v) for v in fold.ends[0]), (float(v) for v in fold.ends[1])
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    return x0, y0, ux, uy, -uy, ux


def _sample(grey: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bicubic samples of `grey` at (xs, ys) (rows × positions along a fold); NaN outside the
    picture."""
    h, w = grey.shape
    out = _cubic(grey, xs, ys)
    out[(xs < 0) | (xs > w - 1) | (ys < 0) | (ys > h - 1)] = np.nan
    return out


CHUNK = 256  # positions along a fold sampled at a time, from a float crop round them alone


def _cubic(table: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bicubic samples of a 2-D array at (xs, ys) (2-D, a column per position along a fold),
    clamped to its edges (float32): bilinear sampling would blur a ridge one or two pixels
    wide to two-thirds of its height. Columns are taken CHUNK at a time, each from a float
    copy of only the crop round them: a full-size float copy of a 45-MP scan would be the
    step's peak, and cv2.remap takes at most 32,767 points a row."""
    h, w = table.shape
    xs = np.clip(xs, 0, w - 1).astype(np.float32)
    ys = np.clip(ys, 0, h - 1).astype(np.float32)
    out = np.empty(xs.shape, np.float32)
    for a in range(0, xs.shape[1], CHUNK):
        cx, cy = xs[:, a : a + CHUNK], ys[:, a : a + CHUNK]
        x0, y0 = max(0, int(cx.min()) - 2), max(0, int(cy.min()) - 2)
        x1, y1 = min(w, int(cx.max()) + 4), min(h, int(cy.max()) + 4)
        crop = table[y0:y1, x0:x1].astype(np.float32)
        out[:, a : a + CHUNK] = cv2.remap(
            crop, cx - x0, cy - y0, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        ).reshape(cx.shape)
    return out


def _level(grey: np.ndarray, fold: Fold, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The picture's level on the fold's near and far side at each position `t` along it
    (NaN where neither side is in the picture), and how far out they are read."""
    x0, y0, ux, uy, nx, ny = _frame(fold)
    sides = np.array([fold.half_width + d * fold.scale for d in SIDES], np.float32)[:, None]

    def side(sign: int) -> np.ndarray:
        xs, ys = x0 + t * ux + sign * sides * nx, y0 + t * uy + sign * sides * ny
        out: np.ndarray = np.nanmean(_sample(grey, xs, ys), axis=0)
        return out

    left, right = side(-1), side(1)
    # One side off the picture (its edge): the other is the level.
    left, right = np.where(np.isnan(left), right, left), np.where(np.isnan(right), left, right)
    return left, right, float(sides.mean())


def profile(grey: np.ndarray, fold: Fold, t: np.ndarray) -> np.ndarray:
    """The fold's brightening (+) or darkening (−) at each offset −W…W across it, per position
    `t` along it (a (2W + 1) × len(t) float32 table), measured piece by piece. Beneath the
    fold the picture's level is the straight line between its two sides: a sky brightening
    across the fold is no part of the fold."""
    x0, y0, ux, uy, nx, ny = _frame(fold)
    w = fold.half_width
    k = np.arange(-w, w + 1, dtype=np.float32)[:, None]
    # Samples off the picture are NaN; a piece of the fold entirely off it measures nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        left, right, reach = _level(grey, fold, t)
        raw = _sample(grey, x0 + t * ux + k * nx, y0 + t * uy + k * ny)
        raw -= left + (right - left) * (k + reach) / (2 * reach)
        out = np.zeros_like(raw)
        piece = PIECE * fold.scale
        for a in range(0, t.size, piece):
            med = np.nanmedian(raw[:, a : a + piece], axis=1, keepdims=True)
            out[:, a : a + piece] = np.nan_to_num(med)
    return out


@dataclass(frozen=True)
class Profile:
    """A fold and its profile table over the whole length it has in the picture."""

    fold: Fold
    start: int  # position along the fold of the table's first column
    table: np.ndarray  # (2W + 1) × length, float32


def profiles(grey: np.ndarray, folds: list[Fold]) -> list[Profile]:
    """Each fold's profile, measured on `grey` (the whole picture, so strips agree)."""
    h, w = grey.shape
    out = []
    for fold in folds:
        x0, y0, ux, uy, _, _ = _frame(fold)
        corners = [(cx - x0) * ux + (cy - y0) * uy for cx in (0, w - 1) for cy in (0, h - 1)]
        start = math.floor(min(corners))
        along = np.arange(start, math.ceil(max(corners)) + 1, dtype=np.float32)
        out.append(Profile(fold, start, profile(grey, fold, along)))
    return out


def flatten(pixels: np.ndarray, folds: list[Profile], where: np.ndarray, top: int = 0) -> int:
    """Subtract each fold's profile from `pixels` (H×W or H×W×C uint8, in place) at the pixels
    `where` is True; `pixels` may be a strip of the picture starting at row `top`. Returns how
    many pixels changed."""
    ys, xs = np.nonzero(where)
    if ys.size == 0 or not folds:
        return 0
    px, py = xs.astype(np.float32), (ys + top).astype(np.float32)
    changed = 0
    taken = np.zeros(ys.size, bool)
    for p in folds:
        x0, y0, ux, uy, nx, ny = _frame(p.fold)
        d = (px - x0) * nx + (py - y0) * ny
        mine = ~taken & (np.abs(d) <= p.fold.half_width)
        if not mine.any():
            continue
        taken |= mine
        t = (px[mine] - x0) * ux + (py[mine] - y0) * uy
        corr = _cubic(p.table, (t - p.start)[None], (d[mine] + p.fold.half_width)[None])[0]
        sel = (ys[mine], xs[mine])
        values = pixels[sel].astype(np.float32)
        values -= corr[:, None] if values.ndim == 2 else corr
        pixels[sel] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        changed += int(mine.sum())
    return changed
