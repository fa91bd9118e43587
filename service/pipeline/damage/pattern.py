"""Damage over a regular texture (a weave, a linen-finish paper, a halftone screen): whatever
breaks the pattern.

Over a fine cloth the line and speck detectors see little: every thread is a thin bright or
dark line with the contrast of a scratch, so a real scratch or a speck of dust is one more
among them (and the detectors leave the cloth alone, as they must). But a regular texture
says what each pixel should be: the same as the pixels a period away (`periodic.shifts`). The
median of those, over pairs of opposite shifts (robust to the few of them that are damaged
themselves), predicts the pixel; where the picture departs from its prediction by more than
SPREADS robust deviations of the departures in its tile, by at least FLOOR grey levels and by
AGREE times as much as the repeats disagree among themselves, the pattern is broken there.
Tiles where the texture does not repeat (almost all of an ordinary photograph) are left to
the other detectors.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from service.pipeline.damage import judge, periodic

TILE = 256  # px: the texture's repeats are sought tile by tile (a dress is not the whole print)
MIN_SHIFTS = 2  # a shift and its opposite: one direction of repeat at least
SPREADS = 6.0  # robust deviations of the departures from the pattern that are damage
FLOOR = 16.0  # grey levels: a smaller departure does not show over a busy weave
MAD_SIGMA = 1.4826
MAX_HALF_WIDTH = 4.0  # px from a piece's middle to its edge: a crack, a scratch or a speck
AGREE = 4.0  # the departure is this many times the repeats' own disagreement, at least


def _at_shift(a: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """a(p + (dy, dx)) for every p (float32, bicubic between pixels), NaN where that lies
    outside."""
    h, w = a.shape
    move = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    out: np.ndarray = cv2.warpAffine(a, move, (w, h), flags=flags, borderValue=np.nan)
    return out


Pair = tuple[tuple[int, int], np.ndarray, np.ndarray]  # a shift (whole pixels), g there, g back


def _pairs(g: np.ndarray, found: list[tuple[float, float]]) -> list[Pair]:
    """`g` moved by each pair of opposite `found` shifts (NaN beyond the picture): taken once
    per tile, for both looks. A shift whose opposite was not found makes no pair: at the end
    of a lattice one side is the lattice and the other is not, and a one-sided prediction
    would take the lattice's end for damage."""
    by_pixel = {(round(dy), round(dx)): (dy, dx) for dy, dx in found}
    out = []
    for (iy, ix), (dy, dx) in by_pixel.items():
        if (-iy, -ix) in by_pixel and (iy, ix) > (-iy, -ix):
            out.append(((iy, ix), _at_shift(g, dy, dx), _at_shift(g, -dy, -dx)))
    return out


def _predicted(
    g: np.ndarray, pairs: list[Pair], known: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel as its repeats say it should be: the median of the pixels the `pairs` of
    shifts lead to, where both of a pair are in the picture, and how far those repeats
    disagree (their median absolute deviation); NaN where no pair is. Given the `known`
    pixels, a pair counts only where it also holds round the pixel over them
    (`periodic.holds`: a face beside a lattice is not the lattice; damage is left out of that
    test, which it would fail)."""
    detail = None if known is None else periodic.detail(g, known)
    kept = []
    for (iy, ix), there, back in pairs:
        both = ~np.isnan(there) & ~np.isnan(back)
        if known is not None and detail is not None:
            both &= periodic.holds(detail, known, iy, ix) & periodic.holds(detail, known, -iy, -ix)
        kept += [np.where(both, there, np.nan), np.where(both, back, np.nan)]
    out = np.full(g.shape, np.nan, np.float32)
    spread = np.full(g.shape, np.nan, np.float32)
    if not kept:
        return out, spread
    sources = np.stack(kept)
    enough = (~np.isnan(sources)).sum(axis=0) >= MIN_SHIFTS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN where no pair is
        there = sources[:, enough]
        out[enough] = np.nanmedian(there, axis=0)
        spread[enough] = np.nanmedian(np.abs(there - out[enough][None]), axis=0)
    return out, spread


def _off_pattern(
    g: np.ndarray, pairs: list[Pair], known: np.ndarray | None, noise: float
) -> np.ndarray:
    """Where `g` departs from its repeats (`_predicted`) by SPREADS robust deviations of all
    its departures and FLOOR at least, and by AGREE times the repeats' own disagreement
    (where they disagree, the end of a lattice or the edge of a cloth, the pixel is no more
    off the pattern than they are off one another)."""
    predicted, disagree = _predicted(g, pairs, known)
    departure = g - predicted
    if np.isnan(departure).all():
        return np.zeros(g.shape, bool)
    centre = float(np.nanmedian(departure))
    spread = float(np.nanmedian(np.abs(departure - centre))) * MAD_SIGMA
    level = max(SPREADS * spread, FLOOR, 6.0 * noise)
    off = np.nan_to_num(np.abs(departure - centre))
    agreed = np.nan_to_num(disagree, nan=np.inf) * AGREE <= off
    out: np.ndarray = (off >= level) & agreed
    return out


def broken(grey: np.ndarray, noise: float = 0.0) -> np.ndarray:
    """Where `grey` departs from the regular texture it is part of (bool, its size). Twice
    per tile: the first look finds what departs from the pattern, the second asks the
    pattern to hold round each pixel, over the rest."""
    h, w = grey.shape
    out = np.zeros(grey.shape, bool)
    reach = periodic.REACH
    grow = np.ones((5, 5), np.uint8)
    for y in range(0, h, TILE):
        for x in range(0, w, TILE):
            y0, x0 = max(0, min(y, h - TILE)), max(0, min(x, w - TILE))
            window = grey[y0 : y0 + TILE, x0 : x0 + TILE].astype(np.float32)
            found = periodic.shifts(window, np.ones(window.shape, bool))
            if len(found) < MIN_SHIFTS:
                continue
            # The tile with a period's margin, so its own edge pixels have sources too.
            top, left = max(0, y - reach), max(0, x - reach)
            g = grey[top : min(h, y + TILE + reach), left : min(w, x + TILE + reach)]
            g = g.astype(np.float32)
            pairs = _pairs(g, found)
            if not pairs:
                continue
            first = _off_pattern(g, pairs, None, noise)
            known = ~(cv2.dilate(first.view(np.uint8), grow) > 0)
            core = (slice(y - top, y - top + TILE), slice(x - left, x - left + TILE))
            out[y : y + TILE, x : x + TILE] = _off_pattern(g, pairs, known, noise)[core]
    return _thin(out) if out.any() else out


def _thin(found: np.ndarray) -> np.ndarray:
    """`found` but for the pieces wider than a crack (a post beside a lattice, a patch of
    other cloth: picture that does not follow the pattern, not damage)."""
    n, labels = cv2.connectedComponents(found.view(np.uint8), connectivity=8)
    keep = judge.half_widths(labels, found, n) <= MAX_HALF_WIDTH
    keep[0] = False
    out: np.ndarray = keep[labels]
    return out
