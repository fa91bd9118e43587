"""Tears and missing corners: where the print itself is gone and the paper or the scanner's lid
shows, at the picture's edge.

A false tear is worse than a missed one (its fill paints over picture), so a region is a tear
only when every tell agrees. Found on a thumbnail, each candidate is a connected region of flat,
near-neutral pixels (bright paper or lid, or a dark lid) that reaches the edge, and it must be:

- *flat and even*: no texture inside (a white dress has folds, snow has shading), no gradient
  across it and no blue cast (a sky has both), and not clipped to pure white (overexposure);
- *cut off abruptly*: the picture next to it differs by far more than the region varies, from
  the second pixel out (an overexposed highlight rolls off softly into the picture);
- *ragged*: its boundary is much longer than a smooth curve through it (a scanner-bed strip or
  a print's own white margin is straight);
- *a bite, not a frame*: it touches at most two sides, and two only at their common corner,
  along less than MAX_CONTACT of each (sky spans the top; a margin runs round the print);
- *alone*: no islands of the same tone just outside it (sky through foliage has many).

The mask is then drawn at full size in the region's box only: the thumbnail's region, grown
into the pixels of the region's own tone along its outline, plus a few pixels of fringe.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from service.pipeline.ops._common import thumbnail

THUMB_SIDE = 512
FLAT_STD = 3.5  # grey levels (3×3 at the thumbnail): paper, lid
TONE_TOL = 14.0  # per band: the region's own tone
MAX_CHROMA = 40.0  # max − min band: paper is near neutral, even yellowed
# Paper or a white lid. A black lid or album page would be the same test darker, but dark flat
# places touching the edge (night, shadow, a black coat) are far too common to risk it.
BRIGHT = 175.0
MIN_AREA, MAX_AREA = 0.002, 0.3  # of the picture
MAX_INSIDE_STD = 5.0  # the region's tone spread
MIN_JUMP = 35.0  # grey levels between the region and the picture a few pixels outside it
PROFILE = 5  # px: how far out that is measured
MIN_STEP = 0.5  # share of that jump reached two pixels out: a step, not a roll-off
# Pure white in every band is an overexposed highlight far more often than a torn print (paper
# and lids scan a little below white): such a region is left alone.
CLIPPED = 253.0
MAX_BLUE = 6.0  # blue above red: paper and lids are neutral or warm, a sky is not
MAX_GRADIENT = 6.0  # grey levels across the region: paper is even, a sky darkens upwards
MIN_RAGGED = 0.4  # px (RMS) off a smooth curve through the boundary, at the thumbnail
MAX_CONTACT = 0.65  # of a side
MIN_WIDTH_AT_EDGE = 0.5  # the length along the edge(s) against the region's extent
MAX_ISLANDS = 0.05  # same-tone pixels near it, not connected, as a share of its area
MARGIN_STRAIGHT = (
    0.6  # share of a margin's lines within a pixel of its width (a tear spares the rest)
)
FRINGE = 2  # px at full size added round the mask: the torn edge's own light rim


def _bands(image: Image.Image) -> np.ndarray:
    """The colour bands as float32 H×W×3 on an 8-bit scale (grey repeated, alpha left out)."""
    arr = np.asarray(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I"):
        arr = arr.astype(np.float32) / 257
    elif image.mode == "F":
        arr = arr.astype(np.float32) * (255 if float(arr.max(initial=0)) <= 1.0 else 1)
    if arr.ndim == 2:
        arr = arr[..., None]
    bands = arr[..., :1] if image.mode == "LA" or arr.shape[2] == 1 else arr[..., :3]
    out: np.ndarray = np.repeat(bands, 3, axis=2) if bands.shape[2] == 1 else bands
    return out.astype(np.float32)


def _thumb(image: Image.Image) -> tuple[np.ndarray, float]:
    """The colour bands of a box-reduced copy (float32 H×W×3) and its scale."""
    factor = max(1, math.ceil(max(image.size) / THUMB_SIDE))
    if factor == 1:
        return _bands(image), 1.0
    if image.mode in ("RGB", "RGBA", "L", "LA", "I", "F"):
        return _bands(thumbnail(image, THUMB_SIDE)), float(factor)
    # Pillow does not reduce 16-bit grey: block means of strips of it, a strip at a time.
    w, h = image.size
    rows = []
    for y0 in range(0, h, 64 * factor):
        part = _bands(image.crop((0, y0, w, min(h, y0 + 64 * factor))))
        ph, pw = part.shape[0] // factor * factor, w // factor * factor
        if ph:
            blocks = part[:ph, :pw].reshape(ph // factor, factor, pw // factor, factor, 3)
            rows.append(blocks.mean(axis=(1, 3)))
    return np.concatenate(rows).astype(np.float32), float(factor)


def _local_std(grey: np.ndarray, k: int = 3) -> np.ndarray:
    mean = cv2.blur(grey, (k, k))
    out: np.ndarray = np.sqrt(np.maximum(cv2.blur(grey * grey, (k, k)) - mean * mean, 0))
    return out


def _candidates(rgb: np.ndarray) -> np.ndarray:
    """Pixels that could be paper or lid: flat, near neutral, bright or dark."""
    grey = rgb.mean(axis=2)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    flat = _local_std(grey) <= FLAT_STD
    out: np.ndarray = flat & (chroma <= MAX_CHROMA) & (grey >= BRIGHT)
    return out


def _contact(region: np.ndarray) -> list[float]:
    """The share of each side (top, right, bottom, left) the region touches."""
    return [
        float(region[0].mean()),
        float(region[:, -1].mean()),
        float(region[-1].mean()),
        float(region[:, 0].mean()),
    ]


def _is_bite(region: np.ndarray) -> bool:
    """Touches one side, or two at their corner, along less than MAX_CONTACT of each, and
    is widest there: paper torn off is missing from the edge in, while a white thing in the
    picture (a strap, a collar) usually just runs into the edge."""
    contact = _contact(region)
    sides = [i for i, c in enumerate(contact) if c > 0]
    if not sides or len(sides) > 2 or max(contact) > MAX_CONTACT:
        return False
    if len(sides) == 2 and (sides[1] - sides[0]) not in (1, 3):
        return False
    h, w = region.shape
    along = sum(c * (w if i % 2 == 0 else h) for i, c in enumerate(contact))
    ys, xs = np.nonzero(region)
    extent = max(xs.max() - xs.min(), ys.max() - ys.min()) + 1
    return bool(along >= MIN_WIDTH_AT_EDGE * extent)


def _ragged(region: np.ndarray) -> float:
    """How far (thumbnail pixels, RMS) the boundary strays from a smooth curve through it: a
    fraction of a pixel for a straight or rounded edge (the pixel staircase), more for a tear."""
    u8 = region.astype(np.uint8)
    contours, _ = cv2.findContours(u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 0.0
    c = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float32)
    h, w = region.shape
    inside = (c[:, 0] > 0) & (c[:, 1] > 0) & (c[:, 0] < w - 1) & (c[:, 1] < h - 1)
    pts = c[inside]
    if len(pts) < 24:
        return 0.0
    # The smooth curve: the path averaged over ~5 % of its length (at least 9 points).
    k = max(9, len(pts) // 20) | 1
    kernel = np.ones(k, np.float32) / k
    smooth = np.stack([np.convolve(pts[:, i], kernel, mode="valid") for i in (0, 1)], axis=1)
    fine = pts[k // 2 : k // 2 + len(smooth)]
    return float(np.sqrt(((fine - smooth) ** 2).sum(axis=1).mean()))


def _profile(rgb: np.ndarray, region: np.ndarray, tone: np.ndarray) -> list[float]:
    """The median colour distance from the region's tone of the pixels 1, 2, … PROFILE px
    outside it: a torn edge is a step (picture from the second pixel on), an overexposed
    highlight rolls off over several."""
    u8 = region.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    inner: np.ndarray = u8
    out: list[float] = []
    for _ in range(PROFILE):
        outer = cv2.dilate(inner, kernel)
        ring = outer > inner
        out.append(float(np.median(np.abs(rgb[ring] - tone).max(axis=1))) if ring.any() else 0.0)
        inner = outer
    return out


def _grown(rgb: np.ndarray, region: np.ndarray, tone: np.ndarray) -> np.ndarray:
    """The region grown by up to two pixels of its own tone: the flatness test stops it short
    of its edge (a 3×3 window there straddles the step)."""
    close = np.abs(rgb - tone).max(axis=2) <= TONE_TOL
    out = region
    for _ in range(2):
        out = out | (cv2.dilate(out.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & close
    return out


def _gradient(grey: np.ndarray, region: np.ndarray) -> float:
    """How much a plane fitted to the region's grey changes across it (sky has a gradient,
    paper on a lid has none)."""
    ys, xs = np.nonzero(region)
    a = np.stack([np.ones_like(xs), xs, ys], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, grey[ys, xs].astype(np.float64), rcond=None)
    extent = float(max(xs.max() - xs.min(), ys.max() - ys.min(), 1))
    return float(math.hypot(coef[1], coef[2]) * extent)


def _islands(cand: np.ndarray, region: np.ndarray, tone: np.ndarray, rgb: np.ndarray) -> float:
    """Same-tone candidate pixels near the region but not part of it, over its area."""
    reach = max(3, round(0.04 * max(region.shape)))
    near = cv2.dilate(region.astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8)) > 0
    same = cand & (np.abs(rgb - tone).max(axis=2) <= TONE_TOL) & near & ~region
    ring = cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return float((same & ~ring).sum()) / max(1, int(region.sum()))


def _is_tear(rgb: np.ndarray, cand: np.ndarray, region: np.ndarray) -> bool:
    area = float(region.mean())
    if not MIN_AREA <= area <= MAX_AREA or not _is_bite(region):
        return False
    core = cv2.erode(region.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    values = rgb[core if core.sum() > 16 else region]
    tone = np.median(values, axis=0)
    if float(values.std(axis=0).max()) > MAX_INSIDE_STD or tone[2] > tone[0] + MAX_BLUE:
        return False
    if float(tone.min()) >= CLIPPED:
        return False
    if _gradient(rgb.mean(axis=2), region) > MAX_GRADIENT:
        return False
    profile = _profile(rgb, _grown(rgb, region, tone), tone)
    far = profile[-1]
    if far < MIN_JUMP or profile[1] < MIN_STEP * far:
        return False
    if _islands(cand, region, tone, rgb) > MAX_ISLANDS:
        return False
    return _ragged(region) >= MIN_RAGGED


def _margin_box(region: np.ndarray) -> tuple[int, int, int, int] | None:
    """The picture inside a print's own white margin (top, bottom, left, right), when `region`
    is such a margin: a frame of even width with straight inner edges on all four sides."""
    h, w = region.shape
    widths = []
    for side in (region, region[::-1], region.T, region.T[::-1]):
        runs = np.argmin(side, axis=0)  # the first non-margin pixel down each line
        runs = np.where(side.all(axis=0), side.shape[0], runs)
        width = int(np.median(runs))
        if width < 2 or float(np.mean(np.abs(runs - width) <= 1)) < MARGIN_STRAIGHT:
            return None
        widths.append(width + 1)  # and the pixel where the margin meets the picture
    top, bottom, left, right = widths
    if h - top - bottom < h // 2 or w - left - right < w // 2:
        return None
    return top, h - bottom, left, w - right


def _regions(rgb: np.ndarray, cand: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The tears among the candidate regions at the edge, and the regions that are a margin."""
    edge = np.zeros_like(cand)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    found, frames = [], []
    # Paper tones differ from tear to tear; one region is one tone, split off by TONE_TOL.
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=4)
    for i in range(1, n):
        comp = labels == i
        if not (comp & edge).any():
            continue
        tone = np.median(rgb[comp & edge], axis=0)
        region = comp & (np.abs(rgb - tone).max(axis=2) <= TONE_TOL)
        n2, lab2 = cv2.connectedComponents(region.astype(np.uint8), connectivity=4)
        for j in range(1, n2):
            part = lab2 == j
            if not (part & edge).any():
                continue
            if _is_tear(rgb, cand, part):
                found.append(part)
            elif min(_contact(part)) > 0.5:
                frames.append(part)
    return found, frames


def tear_regions(rgb: np.ndarray) -> list[np.ndarray]:
    """The thumbnail regions (bool) that are tears. On a print with its own white margin, a
    torn corner runs into the margin and is one region with it: the picture inside the margin
    is searched again, its edge standing for the print's."""
    cand = _candidates(rgb)
    found, frames = _regions(rgb, cand)
    for frame in frames:
        box = _margin_box(frame)
        if box is None:
            continue
        top, bottom, left, right = box
        inner, _ = _regions(rgb[top:bottom, left:right], cand[top:bottom, left:right])
        for part in inner:
            whole = np.zeros_like(cand)
            whole[top:bottom, left:right] = part
            found.append(whole)
    return found


def _full_size(
    image: Image.Image, region: np.ndarray, factor: float
) -> tuple[np.ndarray, tuple[int, int]]:
    """The region drawn at full size in its box: the thumbnail region, its outline refined to
    the pixels of the region's tone, grown by FRINGE; returns the box's mask and its corner."""
    ys, xs = np.nonzero(region)
    w, h = image.size
    x0, y0 = max(0, int((xs.min() - 1) * factor)), max(0, int((ys.min() - 1) * factor))
    x1, y1 = min(w, int((xs.max() + 2) * factor)), min(h, int((ys.max() + 2) * factor))
    arr = _bands(image.crop((x0, y0, x1, y1)))
    sub = region[
        int(y0 / factor) : math.ceil(y1 / factor), int(x0 / factor) : math.ceil(x1 / factor)
    ]
    coarse = cv2.resize(sub.astype(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    k = 2 * math.ceil(factor) + 1
    sure = cv2.erode(coarse, np.ones((k, k), np.uint8)).astype(bool)
    band = cv2.dilate(coarse, np.ones((k, k), np.uint8)).astype(bool)
    tone = np.median(arr[sure] if sure.any() else arr[coarse.astype(bool)], axis=0)
    near = np.abs(cv2.GaussianBlur(arr, (0, 0), 1.0).reshape(arr.shape) - tone).max(axis=2)
    mask = sure | (band & (near <= TONE_TOL * 1.5))
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    mask = cv2.dilate(mask, np.ones((2 * FRINGE + 1,) * 2, np.uint8))
    return mask.astype(bool), (x0, y0)


def tear_mask(image: Image.Image) -> np.ndarray | None:
    """Full-size bool mask of the tears and missing corners, or None when there is none."""
    if min(image.size) < 32:
        return None
    rgb, factor = _thumb(image)
    regions = tear_regions(rgb)
    if not regions:
        return None
    out = np.zeros((image.height, image.width), bool)
    for region in regions:
        mask, (x0, y0) = _full_size(image, region, factor)
        out[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]] |= mask
    return out
