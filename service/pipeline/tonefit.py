"""The model's tone and colour, expressed as a function of the scan, at the model's resolution.

A model's answer is about one megapixel; the scan is forty. To give the scan the model's tone
and colour without its blur, the answer is described as a function of the scan that can be
evaluated at any resolution:

1. a global curve per channel (fading, yellowing, the model's contrast), fitted robustly on
   scan→answer pairs at the answer's size (a 256-entry LUT, cheap at full size);
2. a local gain and offset on top (a guided filter, He et al. 2010: edge-aware because its
   coefficients are linear in the scan itself), which carries what changes across the picture:
   a stain lifted, a vignette evened, one region brightened. The gain only follows broad
   contrast changes: its radius is a few percent of the picture and it is kept within bounds,
   so a model that smooths skin does not flatten the scan's texture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

GAIN_RANGE = (0.6, 1.8)
GUIDE_SIDE = 512
DETAIL_BAND = (1.0, 3.0)  # answer pixels: the finest band a slightly soft answer still holds
DETAIL_WINDOW = 0.04  # of the picture's longer side
DETAIL_PRIOR = 4.0  # grey levels² of band energy that count as "no evidence" (flat places)
SLOPE_RANGE = (0.2, 5.0)
CURVE_SAMPLES = 65_536


@dataclass(frozen=True)
class ToneFit:
    """`luts[c]` maps source band `sources[c]` to output channel c; gain and offset are broad
    fields, kept at up to GUIDE_SIDE and enlarged where they are applied."""

    luts: np.ndarray  # C×256 float32
    sources: tuple[int, ...]  # source band index per output channel
    gain: np.ndarray  # g×g'×C float32, multiplies the curve's output
    offset: np.ndarray  # g×g'×C float32, added after

    def curve(self, scan: np.ndarray) -> np.ndarray:
        """Apply the global curves to a uint8 H×W×S array: H×W×C float32."""
        return _curves(self.luts, self.sources, scan)

    def apply(self, scan: np.ndarray) -> np.ndarray:
        """Curves, then the local gain and offset, at the size of `scan` (the fit's own), one
        channel at a time: no full-size float temporaries beyond the result."""
        out = self.curve(scan)
        size = (scan.shape[1], scan.shape[0])
        for c in range(out.shape[2]):
            gain = cv2.resize(self.gain[..., c], size, interpolation=cv2.INTER_LINEAR)
            out[..., c] *= gain
            out[..., c] += cv2.resize(self.offset[..., c], size, interpolation=cv2.INTER_LINEAR)
        return out


def _curves(luts: np.ndarray, sources: tuple[int, ...], scan: np.ndarray) -> np.ndarray:
    out = np.empty((*scan.shape[:2], len(sources)), np.float32)
    for c, s in enumerate(sources):
        out[..., c] = cv2.LUT(np.ascontiguousarray(scan[..., s]), luts[c])
    return out


def source_bands(n_source: int, n_out: int) -> tuple[int, ...]:
    """Which scan band predicts each output channel (the one band of a grey scan for all)."""
    if n_source == n_out:
        return tuple(range(n_out))
    return (0,) * n_out


def fit_curve(
    src: np.ndarray, dst: np.ndarray, weight: np.ndarray, *, monotone: bool
) -> np.ndarray:
    """A 256-entry curve dst ≈ f(src) from weighted bin means.

    The answer is small, so its extremes are soft: a stroke of ink that is black in the scan is
    grey at the answer's size. The curve is therefore only trusted where the small scan has
    values; beyond them it continues with the overall (least-squares) slope, so the scan's
    sharper extremes are not clipped. A tone curve also keeps a slope within a factor of four
    of the overall one: a flat stretch (what a regression on grainy levels gives) would wipe
    out the scan's detail at those levels.
    """
    w = weight.ravel()
    x = src.ravel()
    y = dst.ravel()
    total = max(float(w.sum()), 1e-9)
    mx, my = float((w * x).sum()) / total, float((w * y).sum()) / total
    var = float((w * (x - mx) ** 2).sum()) / total
    slope = float((w * (x - mx) * (y - my)).sum()) / total / var if var > 1.0 else 1.0
    if monotone:
        slope = float(np.clip(slope, 0.2, 5.0))
    counts = np.bincount(x, w, minlength=256)
    sums = np.bincount(x, w * y, minlength=256)
    kernel = cv2.getGaussianKernel(25, 4.0).ravel()
    counts_s = np.convolve(counts, kernel, mode="same")
    sums_s = np.convolve(sums, kernel, mode="same")
    filled = counts_s > max(1e-9, counts_s.max() * 1e-3)
    levels = np.arange(256, dtype=np.float64)
    if filled.sum() < 2:
        return (my + slope * (levels - mx)).astype(np.float32)
    lo, hi = int(np.argmax(filled)), 255 - int(np.argmax(filled[::-1]))
    raw = np.interp(levels, levels[filled], sums_s[filled] / counts_s[filled])
    steps = np.diff(raw)
    steps[:lo] = slope
    steps[hi:] = slope
    if monotone:
        steps = np.clip(steps, slope / 4, slope * 4)
    lut = np.concatenate([[0.0], np.cumsum(steps)])
    inside = filled & (counts > 0)
    lut += float(np.average(raw[inside] - lut[inside], weights=counts[inside]))
    return lut.astype(np.float32)


def fit_curves(src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per output channel curves (see `robust_curve`)."""
    sources = source_bands(src.shape[2], dst.shape[2])
    same = src.shape[2] == dst.shape[2]
    luts = np.empty((dst.shape[2], 256), np.float32)
    for c, s in enumerate(sources):
        luts[c] = robust_curve(src[..., s], dst[..., c], weight, monotone=same)
    return luts


def robust_curve(x: np.ndarray, y: np.ndarray, weight: np.ndarray, *, monotone: bool) -> np.ndarray:
    """A curve in two passes, the second ignoring what the first cannot explain (dust and
    scratches the model removed must not bend the curve)."""
    lut = fit_curve(x, y, weight, monotone=monotone)
    residual = np.abs(y - lut[x])
    scale = 1.4826 * float(np.median(residual)) + 1.0
    robust = weight / (1.0 + (residual / (3 * scale)) ** 2)
    return fit_curve(x, y, robust, monotone=monotone)


def _box(a: np.ndarray, r: int) -> np.ndarray:
    out: np.ndarray = cv2.boxFilter(a, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)
    return out.reshape(a.shape)  # OpenCV drops a trailing axis of one band


def guided_gain(guide: np.ndarray, target: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Per-pixel (gain, offset) with target ≈ gain·guide + offset locally (a guided filter)."""
    mean_i, mean_p = _box(guide, r), _box(target, r)
    cov = _box(guide * target, r) - mean_i * mean_p
    var = _box(guide * guide, r) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return np.stack([_box(a, r), _box(b, r)])


def fit(scan_small: np.ndarray, answer: np.ndarray, weight: np.ndarray | None = None) -> ToneFit:
    """The tone fit of `answer` (h×w×C float32) from `scan_small` (h×w×S uint8), same size."""
    h, w = answer.shape[:2]
    wt = np.ones((h, w), np.float32) if weight is None else weight
    # The curves are global statistics: some 65,000 pixels (256 per level) are plenty.
    k = max(1, round(math.sqrt(h * w / CURVE_SAMPLES)))
    sub, wsub = answer[::k, ::k], wt[::k, ::k]
    luts = fit_curves(scan_small[::k, ::k], sub, wsub)
    sources = source_bands(scan_small.shape[2], answer.shape[2])
    # The local gain and offset: broad by design (the radius is ~2 % of the picture, eps ≈
    # (10 grey levels)²: below that local contrast the gain stays near one and only the offset
    # follows the model), so they are fitted at up to GUIDE_SIDE and enlarged.
    _, gs = _guide_size(w, h)
    small = scan_small
    if gs != (w, h):
        small = _shape(cv2.resize(scan_small, gs, interpolation=cv2.INTER_AREA), small.shape[2])
    base = _curves(luts, sources, small)
    target = _shape(cv2.resize(answer, gs, interpolation=cv2.INTER_AREA), answer.shape[2]) - base
    r = max(2, round(0.02 * max(gs)))
    a, b = guided_gain(base, target, r, 100.0)
    mean_i = _box(base, r)
    gain = np.clip(1.0 + a, *GAIN_RANGE)
    offset = b + (1.0 + a - gain) * mean_i
    bands = answer.shape[2]
    return ToneFit(
        luts,
        sources,
        _shape(gain, bands).astype(np.float32),
        _shape(offset, bands).astype(np.float32),
    )


def _guide_size(w: int, h: int) -> tuple[float, tuple[int, int]]:
    """The factor to GUIDE_SIDE (never above 1) and the (w, h) a broad field is fitted at."""
    f = min(1.0, GUIDE_SIDE / max(h, w))
    return f, (max(4, round(w * f)), max(4, round(h * f)))


def _shape(a: np.ndarray, bands: int) -> np.ndarray:
    """h×w×bands (OpenCV returns a one-band image without its last axis)."""
    return a.reshape(a.shape[0], a.shape[1], bands)


def _band(a: np.ndarray, f: float) -> np.ndarray:
    """DETAIL_BAND of the answer's pixels, in an image reduced by `f`."""
    fine, coarse = DETAIL_BAND[0] * f, DETAIL_BAND[1] * f
    out: np.ndarray = cv2.GaussianBlur(a, (0, 0), fine) - cv2.GaussianBlur(a, (0, 0), coarse)
    return out


def detail_gain(
    scan_grey: np.ndarray, answer_luma: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, float]:
    """How much the model scaled the scan's finest shared detail: a field (h×w float32) and
    its global value, from the scan's grey to the answer's luminance.

    The full-size pass multiplies the scan's detail by it. It is measured in a band-pass both
    images hold (a few of the answer's pixels), so tone that varies across the picture (a
    stain, a vignette: what bends a global tone curve's slope towards flat) does not enter,
    by a local regression over a wide window (a model that smooths skin does not get to
    flatten the scan's pores), drawn towards the global value where the scan is flat and kept
    within GAIN_RANGE of it. `weight` is 0 where the model repaired.
    """
    h, w = scan_grey.shape
    # Measured at up to GUIDE_SIDE: the band (~10 of the answer's pixels a period) survives the
    # reduction, and the field is broad anyway.
    f, gs = _guide_size(w, h)
    if gs != (w, h):
        scan_grey, answer_luma, weight = (
            cv2.resize(a, gs, interpolation=cv2.INTER_AREA)
            for a in (scan_grey, answer_luma, weight)
        )
    bs, ba = _band(scan_grey, f), _band(answer_luma, f)
    total = float((weight * bs * bs).sum())
    slope = float((weight * bs * ba).sum()) / total if total > 1e-6 else 1.0
    slope = float(np.clip(slope, *SLOPE_RANGE))
    r = max(2, round(DETAIL_WINDOW * max(gs)))
    prior = DETAIL_PRIOR * _box(weight, r)
    cov = _box(weight * bs * ba, r) + prior * slope
    var = _box(weight * bs * bs, r) + prior
    gain: np.ndarray = np.clip(cov / var, GAIN_RANGE[0] * slope, GAIN_RANGE[1] * slope)
    if gs != (w, h):
        gain = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    return gain.astype(np.float32), slope
