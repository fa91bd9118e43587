"""The structure of a hole: the colours and edges around it carried in by diffusion.

OpenCV's Navier–Stokes inpainting measured a little better than Telea on holes laid over clean
pictures (removal 0.79 against 0.76 on torn corners, `bench/fill_quality.py`). Inside a large
hole both carry the rim's colours inward along straight lines, a fan of streaks where the print
had some soft, unknown continuation; so the inside is blurred more the farther from the rim.
Only the low-pass of this is kept in a hole: the texture on top is `texture`'s.
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

INPAINT_RADIUS = 3
SOFTEN = 0.5  # the blur deep in a hole, σ per pixel of distance from its rim
STRUCTURE_SIDE = 512  # px: a hole larger than this squared is diffused at a reduced scale
WIDE_SIGMA = 8  # px: a wider blur is done on a reduced copy
BLUR_TILE = 128  # px: a narrower one only in the tiles where its values are wanted


def diffused(crop: np.ndarray, damaged: np.ndarray, hole_pixels: int = 0) -> np.ndarray:
    """The crop with every damaged pixel diffused in from around it (Navier–Stokes).

    A hole of more than STRUCTURE_SIDE² pixels is diffused at a reduced scale and enlarged:
    inside it only the low-pass is kept anyway, and the inpaint's time grows with the hole."""
    factor = 1
    while hole_pixels > (STRUCTURE_SIDE * factor) ** 2:
        factor *= 2
    if factor > 1:
        return _structure_reduced(crop, damaged, factor)
    return _soften(_diffuse(crop, damaged), damaged)


def _structure_reduced(crop: np.ndarray, damaged: np.ndarray, factor: int) -> np.ndarray:
    h, w = damaged.shape
    small_size = (max(1, w // factor), max(1, h // factor))
    small = cv2.resize(crop, small_size, interpolation=cv2.INTER_AREA).reshape(
        small_size[1], small_size[0], -1
    )
    # A reduced pixel with any damage under it is unknown: its mean has the paper in it.
    gone = cv2.resize(damaged.astype(np.uint8), small_size, interpolation=cv2.INTER_AREA) > 0
    filled = _soften(_diffuse(small if crop.ndim == 3 else small[..., 0], gone), gone)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR).reshape(crop.shape)
    out = crop.copy()
    out[damaged] = up[damaged]
    return out


def _soften(filled: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`filled` with the inside of its holes blurred more the farther from the rim (σ =
    SOFTEN × the distance). Diffusion carries the rim's colours inward along straight lines:
    deep in a torn corner that is a fan of streaks, where the print would have had a soft,
    unknown continuation."""
    dist = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    deepest = float(dist.max())
    if deepest * SOFTEN < 2:
        return filled
    where = dist > 2 / SOFTEN
    want = np.minimum(dist[where] * SOFTEN, deepest * SOFTEN)
    sigmas = [0.0]
    while sigmas[-1] < deepest * SOFTEN:
        sigmas.append(max(2.0, 2 * sigmas[-1]))
    before = filled[where].astype(np.float32)
    out = np.zeros_like(before)
    for lo, hi in itertools.pairwise(sigmas):
        upper = _blurred_at(filled, hi, where).astype(np.float32)
        t = np.clip((want - lo) / (hi - lo), 0, 1)
        t = t[:, None] if before.ndim == 2 else t
        band = (want > lo) & (want <= hi)
        mix = before * (1 - t) + upper * t
        out[band] = mix[band]
        before = upper
    if filled.dtype != np.float32:
        np.clip(np.rint(out, out=out), 0, np.iinfo(filled.dtype).max, out=out)
    result = filled.copy()
    result[where] = out.astype(filled.dtype)
    return result


def _blurred_at(image: np.ndarray, sigma: float, where: np.ndarray) -> np.ndarray:
    """`_blurred(image, sigma)[where]`, the same values, blurred only in the tiles that hold a
    pixel of `where` (with the kernel's reach around them) when that is less work: in a crack
    that counts as a hole, `where` is a few short stretches of a large crop."""
    if sigma > WIDE_SIGMA:
        wide: np.ndarray = _blurred(image, sigma)[where]
        return wide
    reach = math.ceil(4 * sigma) + 1  # OpenCV's kernel: 3σ each way for uint8, 4σ otherwise
    h, w = where.shape
    boxes = []
    for y0 in range(0, h, BLUR_TILE):
        for x0 in range(0, w, BLUR_TILE):
            y1, x1 = min(h, y0 + BLUR_TILE), min(w, x0 + BLUR_TILE)
            if where[y0:y1, x0:x1].any():
                boxes.append((y0, x0, y1, x1, max(0, y0 - reach), max(0, x0 - reach)))
    work = sum((min(h, b[2] + reach) - b[4]) * (min(w, b[3] + reach) - b[5]) for b in boxes)
    if work >= h * w:
        whole: np.ndarray = _blurred(image, sigma)[where]
        return whole
    out = np.empty_like(image)
    for y0, x0, y1, x1, top, left in boxes:
        part = _blurred(image[top : min(h, y1 + reach), left : min(w, x1 + reach)], sigma)
        out[y0:y1, x0:x1] = part[y0 - top : y1 - top, x0 - left : x1 - left]
    at: np.ndarray = out[where]
    return at


def _blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur; a wide one on a reduced copy, enlarged (a σ of hundreds of pixels
    directly would take seconds)."""
    factor = 1
    while sigma / factor > WIDE_SIGMA:
        factor *= 2
    if factor == 1:
        out: np.ndarray = cv2.GaussianBlur(image, (0, 0), sigma).reshape(image.shape)
        return out
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).reshape(image.shape)
    return out


def _diffuse(crop: np.ndarray, damaged: np.ndarray) -> np.ndarray:
    mask = damaged.astype(np.uint8)
    if crop.ndim == 2 or crop.shape[2] == 1 or crop.dtype == np.uint8:
        out: np.ndarray = cv2.inpaint(crop, mask, INPAINT_RADIUS, cv2.INPAINT_NS)
        return out.reshape(crop.shape)
    bands = [cv2.inpaint(crop[..., c], mask, INPAINT_RADIUS, cv2.INPAINT_NS) for c in range(3)]
    return np.stack(bands, axis=-1)
