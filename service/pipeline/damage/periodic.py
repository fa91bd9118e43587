"""Lines across a regular texture (a weave, a linen-finish paper, a halftone screen) rebuilt
from the pattern's own repeats.

A diffusion inpaint (`cv2.inpaint`) draws a smooth band through a weave: every thread it
crosses is lost, and over a fine cloth the repaired line shows as a grey ribbon. A regular
texture says what lies under the line, a period away: the same thread. So before a line is
filled the texture's detail (what a Gaussian low-pass at DETAIL_SIGMA leaves) is correlated
with itself shifted, over the undamaged pixels around the line (masked, normalised
cross-correlation by FFT, on a WINDOW around the damage). Where a shift at least MIN_SHIFT
long is a peak of that correlation, correlates by more than MIN_CORRELATION and is a repeat (the
correlation dips to zero on the way to it, a half-period out of phase), the texture repeats
under it. A window may hold a cloth beside a face, so each damaged pixel checks the same
correlation over the LOCAL square around it, and takes the mean of the undamaged pixels the
shifts that hold there lead to, each moved onto the diffused fill's low-pass there (the
shading of the print is the inpaint's, the threads the pattern's).

Why the threshold is one half: a pixel's detail copied from a place that correlates with it by
ρ is off by 2(1 − ρ) of the detail's variance, while a smooth fill is off by all of it (it has
none of the detail). Copying is the better guess above ρ = ½ and the worse one below; grass,
fur, skin and a print's grain have no such peak, so their lines are left to the inpaint.
"""

from __future__ import annotations

import cv2
import numpy as np

DETAIL_SIGMA = 3.0  # px: the low-pass whose remainder is the texture's detail
REACH = 32  # px: the longest period looked for (a weave or a paper's finish, not a brick wall)
MIN_SHIFT = 3  # px: shorter shifts land on the line itself or on its soft rim
MIN_CORRELATION = 0.5  # above it copying the detail beats diffusing it (see the docstring)
MAX_SHIFTS = 8  # the best peaks used (a shift and its opposite are two)
MIN_OVERLAP = 0.25  # of the known pixels: a shift whose overlap is smaller says nothing
MIN_SIDE = 2 * REACH + 16  # px: a window smaller than this holds too few periods to trust
WINDOW = 256  # px a side: where the repeats are sought (a few dozen periods of a weave)
LOCAL = 31  # px: the square around a damaged pixel over which a repeat must hold too


def detail(grey: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """What a Gaussian low-pass at DETAIL_SIGMA leaves of `grey` (float32). Given the `known`
    pixels, the low-pass is theirs alone (a normalised blur) and the detail is 0 elsewhere: what
    a damaged pixel holds, repaired yet by a neighbouring tile or not, must not leak into it."""
    g = grey.astype(np.float32)
    if known is None:
        out: np.ndarray = g - cv2.GaussianBlur(g, (0, 0), DETAIL_SIGMA)
        return out
    k = known.astype(np.float32)
    weight = np.maximum(cv2.GaussianBlur(k, (0, 0), DETAIL_SIGMA), 1e-6)
    low = cv2.GaussianBlur(g * k, (0, 0), DETAIL_SIGMA) / weight
    out = (g - low) * k
    return out


def shifts(grey: np.ndarray, known: np.ndarray) -> list[tuple[float, float]]:
    """The shifts (dy, dx) under which `grey`'s detail repeats over the `known` pixels (a
    local peak of the correlation above MIN_CORRELATION, at least MIN_SHIFT long), best
    first, to a fraction of a pixel (a cloth turned a little repeats between pixels); none
    when the window is too small or the texture is not regular."""
    h, w = grey.shape
    if min(h, w) < MIN_SIDE or known.sum() < MIN_SIDE * MIN_SIDE:
        return []
    k = known.astype(np.float64)
    d = detail(grey, known).astype(np.float64)
    # Zero-padded by REACH, so no shift within it wraps round; sizes the FFT is fast at.
    shape = (cv2.getOptimalDFTSize(h + REACH + 1), cv2.getOptimalDFTSize(w + REACH + 1))
    fd, fk, fe = (np.fft.rfft2(a, shape) for a in (d, k, d * d))
    near = np.r_[0 : REACH + 1, -REACH:0]
    pick = np.ix_(near, near)
    num = np.fft.irfft2(fd * np.conj(fd), shape)[pick]  # Σ d(p + t) d(p)
    energy_at = np.fft.irfft2(fe * np.conj(fk), shape)[pick]  # Σ d²(p + t) k(p)
    overlap = np.fft.irfft2(fk * np.conj(fk), shape)[pick]
    # Σ k(p + t) d²(p) is the same sum at −t.
    energy_here = np.roll(energy_at[::-1, ::-1], 1, axis=(0, 1))
    rho = num / np.sqrt(np.maximum(energy_at * energy_here, 1e-9))
    rho[overlap < MIN_OVERLAP * k.sum()] = 0.0
    rho = np.fft.fftshift(rho).astype(np.float32)  # shift 0 at the centre
    peak = rho >= cv2.dilate(rho, np.ones((3, 3), np.uint8))
    dy, dx = np.mgrid[-REACH : REACH + 1, -REACH : REACH + 1]
    good = peak & (rho > MIN_CORRELATION) & (np.hypot(dy, dx) >= MIN_SHIFT)
    ys, xs = np.nonzero(good)
    order = np.argsort(-rho[ys, xs], kind="stable")
    out = []
    for i in order:
        t = (int(dy[ys[i], xs[i]]), int(dx[ys[i], xs[i]]))
        if _dips(rho, t):
            y, x = int(ys[i]), int(xs[i])
            out.append(
                (t[0] + _vertex(rho[y - 1 : y + 2, x]), t[1] + _vertex(rho[y, x - 1 : x + 2]))
            )
        if len(out) == MAX_SHIFTS:
            break
    return out


def _vertex(three: np.ndarray) -> float:
    """Where a parabola through three samples a pixel apart peaks, from the middle one (within
    half a pixel; 0 at the window's edge)."""
    if three.size < 3:
        return 0.0
    a, b, c = (float(v) for v in three)
    curve = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / curve, -0.5, 0.5)) if curve < 0 else 0.0


def _dips(rho: np.ndarray, t: tuple[int, int]) -> bool:
    """True when the correlation falls to zero or below on the way from no shift to `t`: the
    pattern repeats there, after a half-period of opposite phase. Along the grain of an
    oriented texture (wood, a brushed surface, an enlarged picture's smooth detail) it stays
    high all the way, and a shift along it is a continuation, not a repeat."""
    n = max(abs(t[0]), abs(t[1]))
    steps = np.arange(1, n) / n
    ys = np.rint(REACH + steps * t[0]).astype(int)
    xs = np.rint(REACH + steps * t[1]).astype(int)
    return bool(ys.size) and float(rho[ys, xs].min()) <= 0.0


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """a(p + (dy, dx)) for every p, zero where that lies outside."""
    out = np.zeros_like(a)
    h, w = a.shape[:2]
    ys, yd = slice(max(0, dy), min(h, h + dy)), slice(max(0, -dy), min(h, h - dy))
    xs, xd = slice(max(0, dx), min(w, w + dx)), slice(max(0, -dx), min(w, w - dx))
    out[yd, xd] = a[ys, xs]
    return out


def holds(texture: np.ndarray, known: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Where the repeat (dy, dx) holds over the LOCAL square around a pixel: the correlation of
    the known detail (`texture`, from `detail`) with itself shifted, there, above
    MIN_CORRELATION."""
    d = texture * known
    there = _shifted(d, dy, dx)
    size = (LOCAL, LOCAL)
    num = cv2.blur(d * there, size)
    energy = cv2.blur(d * d, size) * cv2.blur(there * there, size)
    out: np.ndarray = num > MIN_CORRELATION * np.sqrt(np.maximum(energy, 1e-12))
    return out


def rebuilt(
    bands: np.ndarray, filled: np.ndarray, lines: np.ndarray, known: np.ndarray,
    found: list[tuple[float, float]],
) -> np.ndarray:  # fmt: skip
    """`filled` (the inpainted H×W×C bands) with each pixel of `lines` replaced by the mean of
    the undamaged pixels `found` shifts away where the repeat holds around it (`holds`), each
    moved onto the fill's low-pass; pixels with no such source keep the inpaint."""
    if not found or not lines.any():
        return filled
    src = bands.astype(np.float32)
    low = cv2.GaussianBlur(filled.astype(np.float32), (0, 0), DETAIL_SIGMA).reshape(filled.shape)
    texture = detail(src.mean(axis=2), known)
    ys, xs = np.nonzero(lines)
    h, w = lines.shape
    total = np.zeros((ys.size, filled.shape[2]), np.float32)
    count = np.zeros(ys.size, np.float32)
    for fy, fx in found:
        dy, dx = round(fy), round(fx)
        sy, sx = ys + dy, xs + dx
        ok = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
        ok[ok] = known[sy[ok], sx[ok]]
        ok[ok] = holds(texture, known, dy, dx)[ys[ok], xs[ok]]
        total[ok] += src[sy[ok], sx[ok]] - low[sy[ok], sx[ok]] + low[ys[ok], xs[ok]]
        count[ok] += 1
    out = filled.copy()
    have = count > 0
    values = total[have] / count[have][:, None]
    if np.issubdtype(filled.dtype, np.integer):
        info = np.iinfo(filled.dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    out[ys[have], xs[have]] = values.astype(filled.dtype)
    return out
