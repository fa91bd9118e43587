"""How strongly each pixel lies on a long straight line of a top-hat response, whatever the
texture around it (a multi-scale line detector's single scale, as used for thin vessels).

The mean of the response along a short segment through a pixel, taken at several angles, is
high at the angle of a line the pixel is on, for as far as the segment reaches. A picture's own
texture — blades of grass, fur, the grain of wood — is short strokes in every direction, so
along any one segment it averages out to the texture's mean, while a crack or a scratch stays
bright along all of it. The best angle's mean less the mean of the square around the pixel is
the line strength; the picture's own spread of strengths (median and MAD) says which stand out,
so the level adapts to how busy the picture is. Everything is float32 OpenCV filtering.
"""

from __future__ import annotations

import math
from functools import cache

import cv2
import numpy as np

ANGLES = 12  # 15° apart: a segment `LENGTH` long misses a line between them by < 1.5 pixels
LENGTH_SHARE = 0.04  # of the picture's short side: the segment's length
MIN_LENGTH, MAX_LENGTH = 15, 41  # pixels, odd
SAMPLE = 2  # the robust statistics are taken on every second pixel each way
MAD_SIGMA = 1.4826  # a MAD times this is a standard deviation for normal data


def segment_length(short_side: int) -> int:
    """The segment's length for a picture whose short side is `short_side` (odd pixels)."""
    n = min(MAX_LENGTH, max(MIN_LENGTH, round(LENGTH_SHARE * short_side)))
    return n | 1


@cache
def _kernels(length: int) -> tuple[np.ndarray, ...]:
    """Normalised anti-aliased line segments `length` long through the centre, one per angle."""
    scale, c = 4, (length - 1) / 2
    out = []
    for i in range(ANGLES):
        t = math.pi * i / ANGLES
        dx, dy = c * math.cos(t), c * math.sin(t)
        big = np.zeros((length * scale, length * scale), np.uint8)
        p0 = (round((c - dx + 0.5) * scale), round((c - dy + 0.5) * scale))
        p1 = (round((c + dx + 0.5) * scale), round((c + dy + 0.5) * scale))
        cv2.line(big, p0, p1, 255, scale, cv2.LINE_AA)
        k = cv2.resize(big, (length, length), interpolation=cv2.INTER_AREA).astype(np.float32)
        out.append(k / k.sum())
    return tuple(out)


def strength(resp: np.ndarray, length: int) -> np.ndarray:
    """Per pixel, the best angle's mean of `resp` along a segment, less the square's mean."""
    r = resp.astype(np.float32)
    best = np.full(r.shape, -np.inf, np.float32)
    for k in _kernels(length):
        cv2.max(best, cv2.filter2D(r, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT), best)
    out: np.ndarray = best - cv2.blur(r, (length, length), borderType=cv2.BORDER_REFLECT)
    return out


def level(values: np.ndarray, spreads: float) -> float:
    """The median of `values` plus `spreads` robust standard deviations (MAD)."""
    sub = values[::SAMPLE, ::SAMPLE]
    med = float(np.median(sub))
    mad = float(np.median(np.abs(sub - med))) * MAD_SIGMA
    return med + spreads * mad


BUSY_REACH = 4  # segment lengths: the square over which the typical strength is taken


def busy(values: np.ndarray, length: int) -> np.ndarray:
    """The mean positive line strength around each pixel: high among many lines (a page of
    letters, a lattice, a weave), low around a lone one."""
    k = BUSY_REACH * length + 1
    out: np.ndarray = cv2.blur(np.maximum(values, 0), (k, k), borderType=cv2.BORDER_REFLECT)
    return out
