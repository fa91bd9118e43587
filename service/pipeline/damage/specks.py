"""Dust specks: small bright or dark outliers against their neighbourhood's median.

Shared by `dust_scratch` (which replaces a speck by that median) and the damage detector of
`repair_damage`, so the two agree on what a speck is. All in uint8 numpy, one strip at a time.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

DUST_MIN_CONTRAST = 50  # grey levels a speck must stand out from its surroundings
DUST_TEXTURE_RATIO = 8  # …and this many times more than the local texture does
DUST_MIN_PIXELS = 12  # fewer flagged pixels in a strip than this is texture, not dust
STEP = 2  # sample spacing of the median: 3×3 samples spanning 5×5 pixels


def grey(image: Image.Image) -> np.ndarray:
    """The uint8 grey that `dust_mask` reads, of an image in a working mode (RGB, RGBA, L, LA):
    Pillow's luminance straight from the bands, without an RGB copy of a strip first."""
    return np.asarray(image.getchannel(0) if image.mode in ("L", "LA") else image.convert("L"))


def _med3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    median: np.ndarray = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    return median


def dilated_median(a: np.ndarray) -> np.ndarray:
    """Median of the 3×3 samples two pixels apart around each pixel, by a min/max network.

    Its 5×5 reach erases specks up to 4×4 pixels and lines up to 2 pixels wide, at the cost of
    a 3×3 median, and in uint8 numpy it is several times faster than Pillow's MedianFilter(5).
    """
    p = np.pad(a, STEP, mode="edge")
    h, w = a.shape
    up, mid, down = p[:h, :], p[STEP : STEP + h, :], p[2 * STEP :, :]
    lo, hi = np.minimum(up, mid), np.maximum(up, mid)
    vmin, vmax = np.minimum(lo, down), np.maximum(hi, down)
    vmed = np.maximum(lo, np.minimum(hi, down))
    cols = [slice(0, w), slice(STEP, STEP + w), slice(2 * STEP, 2 * STEP + w)]
    max_of_min = np.maximum(np.maximum(vmin[:, cols[0]], vmin[:, cols[1]]), vmin[:, cols[2]])
    min_of_max = np.minimum(np.minimum(vmax[:, cols[0]], vmax[:, cols[1]]), vmax[:, cols[2]])
    med_of_med = _med3(vmed[:, cols[0]], vmed[:, cols[1]], vmed[:, cols[2]])
    return _med3(max_of_min, med_of_med, min_of_max)


def _grow(mask: np.ndarray) -> np.ndarray:
    """Dilate a boolean mask by one pixel: the soft rim of a speck is damage too."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    grown = out.copy()
    grown[:, 1:] |= out[:, :-1]
    grown[:, :-1] |= out[:, 1:]
    return grown


def dust_mask(grey: np.ndarray, noise: float) -> np.ndarray:
    """Pixels that are small outliers against their neighbourhood's median.

    All in uint8: |grey - median| fits, and `diff > RATIO * activity` is the same test as
    `activity <= (diff - 1) // RATIO` for the pixels that pass the contrast threshold.
    """
    med = dilated_median(grey)
    diff = np.maximum(grey, med)
    diff -= np.minimum(grey, med)
    del med
    threshold = max(DUST_MIN_CONTRAST, int(4 * noise))
    mask = diff > threshold
    if np.count_nonzero(mask) < DUST_MIN_PIXELS:  # most strips: no need to measure texture
        return np.zeros(grey.shape, bool)
    activity = np.asarray(Image.fromarray(diff).filter(ImageFilter.BoxBlur(6)))
    diff -= 1
    np.floor_divide(diff, DUST_TEXTURE_RATIO, out=diff)
    mask &= activity <= diff
    return _grow(mask) if np.count_nonzero(mask) >= DUST_MIN_PIXELS else np.zeros_like(mask)
