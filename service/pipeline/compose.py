"""The merge's full-size pass (see `merge` for the formula): strip by strip, a handful of
OpenCV calls on uint8 rows, and the result written where it costs no second image.

Memory: a 45-megapixel RGB scan is 180 MB as Pillow holds it (4 bytes a pixel); a separate
result would be as much again. When nothing but the merge refers to the scan any more, the
result is written into the scan's own pixels: each strip's rows, with the few margin rows it
needs above and below, are copied out before any result is pasted over them (the main thread
reads strips ahead of the workers, and pastes only strips whose neighbours have been read).
Otherwise the result is a new image. Strips are a hundred rows or so: a few MB of temporaries.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import cv2
import numpy as np
from PIL import Image

from service.pipeline import grain, merge, views
from service.pipeline.memory import release_memory
from service.pipeline.parallel import ordered_map

# Rows per strip: OpenCV's per-call cost favours tall strips; a separate result (a second
# full-size image) leaves little memory, so there they are short.
STRIP_ROWS = 128
STRIP_ROWS_APART = 32
MARGIN = 2  # rows each side: the Wiener window (5×5) and the dust test's 3×3 dilation
GRAIN_TILE = 256
GRAIN_UNIT = 16  # the grain tiles hold unit-sigma noise ×16


def enlarge(field: np.ndarray, k: int, y0: int, y1: int, width: int) -> np.ndarray:
    """Rows y0:y1 (full size) of a grid field enlarged bilinearly by exactly k, `width` wide.

    Every strip asks OpenCV for whole grid rows scaled by the same whole factor, so a strip's
    rows are the very rows one enlargement of the whole field would give: no seams.
    """
    first = max(0, math.floor((y0 + 0.5) / k - 0.5))
    last = min(field.shape[0], math.floor((y1 - 0.5) / k - 0.5) + 2)
    size = (field.shape[1] * k, (last - first) * k)
    out: np.ndarray = cv2.resize(field[first:last], size, interpolation=cv2.INTER_LINEAR)
    top = y0 - first * k
    return out[top : top + y1 - y0, :width]


@functools.cache
def _grain_tiles() -> tuple[np.ndarray, np.ndarray]:
    """Unit-sigma soft noise (×GRAIN_UNIT), split in its positive and negative parts (uint8)."""
    noise = np.random.default_rng(1234).normal(0, 1, (GRAIN_TILE, GRAIN_TILE)).astype(np.float32)
    wrapped = np.pad(noise, 4, mode="wrap")  # blurred across its edges, so the tiling is seamless
    soft = cv2.GaussianBlur(wrapped, (0, 0), 0.6)[4:-4, 4:-4]
    scaled = np.rint(soft / soft.std() * GRAIN_UNIT)
    return (
        np.clip(scaled, 0, 255).astype(np.uint8),
        np.clip(-scaled, 0, 255).astype(np.uint8),
    )


@functools.lru_cache(maxsize=2)
def _grain_wide(width: int) -> tuple[np.ndarray, np.ndarray]:
    """The grain tiles repeated across `width` (GRAIN_TILE rows each, a few MB)."""
    reps = math.ceil(width / GRAIN_TILE)
    up, down = _grain_tiles()
    return (
        np.ascontiguousarray(np.tile(up, (1, reps))[:, :width]),
        np.ascontiguousarray(np.tile(down, (1, reps))[:, :width]),
    )


def _grain_rows(wide: np.ndarray, y0: int, y1: int) -> np.ndarray:
    """Rows y0:y1 of the repeated tile: a fixed pattern, so strips agree."""
    out: np.ndarray = np.take(wide, np.arange(y0, y1) % GRAIN_TILE, axis=0)
    return out


def detail(
    p: merge.Plan, grey: np.ndarray, top: int, y0: int, y1: int
) -> tuple[np.ndarray, np.ndarray]:
    """The weighted detail for rows y0:y1 as its positive and negative parts (uint8: OpenCV's
    8-bit loops saturate, so no sign and no wider type is needed); `grey` is the scan's rows
    from `top`, with MARGIN rows of context either side where the picture has them."""
    width = grey.shape[1]
    low = enlarge(p.low, p.k, top, top + grey.shape[0], width)
    magnitude = cv2.absdiff(grey, low)
    # Dust: a spike beyond what is usual here, and the pixels around it.
    over = cv2.subtract(magnitude, enlarge(p.allow, p.k, top, top + grey.shape[0], width))
    spike = cv2.dilate(
        cv2.convertScaleAbs(over, alpha=255 / (2 * p.grain + 2)), np.ones((3, 3), np.uint8)
    )
    a, b = y0 - top, y1 - top
    keep = cv2.multiply(
        cv2.bitwise_not(spike[a:b]), enlarge(p.weight, p.k, y0, y1, width), scale=1 / 255
    )
    if p.wiener > 0:
        keep = cv2.multiply(grain.wiener(magnitude, p.wiener)[a:b], keep, scale=1 / 255)
    g, lo = grey[a:b], low[a:b]
    pos = cv2.multiply(cv2.subtract(g, lo), keep, scale=1 / merge.WEIGHT_ONE)
    neg = cv2.multiply(cv2.subtract(lo, g), keep, scale=1 / merge.WEIGHT_ONE)
    if p.repair is not None:
        repaired = enlarge(p.repair, p.k, y0, y1, width)
        if int(repaired.max()) > 0:
            scale = p.grain_left / (255 * GRAIN_UNIT)
            up, down = _grain_wide(width)
            pos = cv2.add(pos, cv2.multiply(_grain_rows(up, y0, y1), repaired, scale=scale))
            neg = cv2.add(neg, cv2.multiply(_grain_rows(down, y0, y1), repaired, scale=scale))
    return pos, neg


def strip(
    p: merge.Plan, grey: np.ndarray, alpha: np.ndarray | None, top: int, y0: int, y1: int
) -> np.ndarray:
    """Rows y0:y1 of the result (uint8, the output mode's bands); `grey` holds the scan's
    luminance from row `top` (with margins), `alpha` its alpha band for rows y0:y1 if any."""
    width = grey.shape[1]
    pos, neg = detail(p, grey, top, y0, y1)
    low = enlarge(p.answer, p.k, y0, y1, width)
    if p.channels == 3:
        pos, neg = cv2.cvtColor(pos, cv2.COLOR_GRAY2RGB), cv2.cvtColor(neg, cv2.COLOR_GRAY2RGB)
    out: np.ndarray = cv2.subtract(cv2.add(low, pos), neg)
    if alpha is not None:  # the scan's alpha, untouched
        out = np.dstack([out.reshape(y1 - y0, width, -1), alpha])
    return out


def output_mode(scan: Image.Image, channels: int) -> str:
    """The result's mode: the answer's colour, the scan's alpha."""
    base = "L" if channels == 1 else "RGB"
    return base + "A" if scan.mode in ("RGBA", "LA") else base


def compose(scan: Image.Image, p: merge.Plan, *, in_place: bool) -> Image.Image:
    """The full-size result; written into `scan` itself when `in_place` (the caller's promise
    that nothing else uses the scan) and the modes allow it."""
    release_memory()
    width, height = scan.size
    mode = output_mode(scan, p.channels)
    in_place = in_place and mode == scan.mode and not scan.readonly
    out = scan if in_place else Image.new(mode, scan.size)
    target = STRIP_ROWS if in_place else STRIP_ROWS_APART
    rows = p.k * max(1, round(target / p.k))  # whole grid rows per strip

    def read() -> Iterator[tuple[int, int, int, np.ndarray, np.ndarray | None]]:
        # In the main thread, ahead of the pastes: see the module docstring.
        for y0 in range(0, height, rows):
            y1 = min(height, y0 + rows)
            top, bottom = max(0, y0 - MARGIN), min(height, y1 + MARGIN)
            alpha = None
            if scan.mode in ("RGBA", "LA"):
                alpha = np.asarray(scan.crop((0, y0, width, y1)).getchannel("A"))
            yield y0, y1, top, views.read_grey(scan, (0, top, width, bottom)), alpha

    def job(item: tuple[int, int, int, np.ndarray, np.ndarray | None]) -> tuple[int, np.ndarray]:
        y0, y1, top, grey, alpha = item
        return y0, strip(p, grey, alpha, top, y0, y1)

    buffers: dict[int, Image.Image] = {}  # one strip image per height, filled again and again
    for y0, result in ordered_map(job, read()):
        n = result.shape[0]
        if n not in buffers:
            buffers[n] = Image.new(mode, (width, n))
        buffers[n].frombytes(np.ascontiguousarray(result))
        out.paste(buffers[n], (0, y0))
    return out
