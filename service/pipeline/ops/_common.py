"""Shared helpers for the operations: thumbnails for detectors, alpha-safe LUTs, strip processing.

Why strips: a 45-megapixel scan is 135 MB as RGB; a float copy of it is 540 MB. Operations
therefore measure on a small thumbnail and apply their fix strip by strip, so that at any moment
only the input, the output and a few strips are alive. Two strips run at once because Pillow's C
filters and numpy's large-array loops release the GIL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

THUMB_SIDE = 1024
STRIP_ROWS = 512
WORKERS = 2
COLOUR_MODES = ("RGB", "RGBA")
SUPPORTED_MODES = ("RGB", "RGBA", "L", "LA")


def thumbnail(image: Image.Image, max_side: int = THUMB_SIDE) -> Image.Image:
    """A box-reduced copy no larger than `max_side`; cheap even on a 45-megapixel scan."""
    factor = math.ceil(max(image.size) / max_side)
    return image.reduce(factor) if factor > 1 else image


def base_mode(image: Image.Image) -> str:
    """The mode without alpha: RGB or L."""
    return "RGB" if image.mode in COLOUR_MODES else "L"


def colour_array(image: Image.Image) -> np.ndarray:
    """The colour bands of a (small) image as an H×W×C uint8 array, alpha dropped."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        return arr[:, :, None]
    if image.mode == "LA":
        return arr[:, :, :1]
    return arr[:, :, :3]


def grey_array(image: Image.Image) -> np.ndarray:
    """Luminance of a (small) image as float32."""
    if image.mode in ("L", "LA"):
        return np.asarray(image.getchannel(0), dtype=np.float32)
    return np.asarray(image.convert("RGB").convert("L"), dtype=np.float32)


def is_grey(image: Image.Image) -> bool:
    """True for L/LA and for RGB images whose channels are (nearly) equal."""
    if image.mode in ("L", "LA"):
        return True
    arr = colour_array(thumbnail(image, 256)).astype(np.int16)
    return bool(np.abs(arr - arr[:, :, :1]).max() <= 2)


def apply_luts(image: Image.Image, luts: list[np.ndarray]) -> Image.Image:
    """Apply one 256-entry LUT per colour band with `Image.point`; alpha keeps an identity LUT."""
    bands = len(image.getbands())
    identity = np.arange(256)
    table: list[int] = []
    for i in range(bands):
        n_colour = 3 if image.mode in COLOUR_MODES else 1
        lut = luts[min(i, len(luts) - 1)] if i < n_colour else identity
        table.extend(np.clip(np.rint(lut), 0, 255).astype(np.int64).tolist())
    return image.point(table)


def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """The colour part and the alpha band (None when there is none)."""
    if image.mode == "RGBA":
        return image.convert("RGB"), image.getchannel("A")
    if image.mode == "LA":
        return image.getchannel("L"), image.getchannel("A")
    return image, None


def with_alpha(base: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """Put the untouched alpha band back."""
    if alpha is None:
        return base
    base.putalpha(alpha)
    return base


def strips(height: int, rows: int = STRIP_ROWS) -> Iterator[tuple[int, int]]:
    """Row ranges covering `height`."""
    for y0 in range(0, height, rows):
        yield y0, min(height, y0 + rows)


def map_strips(
    image: Image.Image,
    fn: Callable[[Image.Image], Image.Image | None],
    *,
    margin: int,
    rows: int = STRIP_ROWS,
) -> Image.Image:
    """Run `fn` on overlapping horizontal strips and stitch the results.

    `fn` gets a strip with `margin` extra rows above and below (where they exist) and returns
    the processed strip of the same size, or None when it changed nothing. When every strip
    returns None the very input object comes back, so detectors can decide at full resolution.
    """
    w, h = image.size
    out: Image.Image | None = None

    def job(span: tuple[int, int]) -> tuple[int, int, int, Image.Image | None]:
        y0, y1 = span
        top, bottom = max(0, y0 - margin), min(h, y1 + margin)
        return y0, y1, top, fn(image.crop((0, top, w, bottom)))

    with ThreadPoolExecutor(WORKERS) as pool:
        for y0, y1, top, result in pool.map(job, strips(h, rows)):
            if result is None:
                continue
            if out is None:
                out = image.copy()
            out.paste(result.crop((0, y0 - top, w, y1 - top)), (0, y0))
    return image if out is None else out


def sample_tiles(image: Image.Image, *, count: int = 16, size: int = 192) -> list[np.ndarray]:
    """Full-resolution grey tiles on a grid, for detectors that a thumbnail would blur away."""
    w, h = image.size
    size = min(size, w, h)
    side = max(1, math.isqrt(count))
    tiles = []
    for iy in range(side):
        for ix in range(side):
            x = int((w - size) * (ix + 0.5) / side)
            y = int((h - size) * (iy + 0.5) / side)
            tile = image.crop((x, y, x + size, y + size))
            tiles.append(grey_array(tile))
    return tiles


def estimate_noise(image: Image.Image) -> float:
    """The standard deviation of pixel noise (grain, sensor noise) in grey levels.

    Measured at full resolution, because a thumbnail averages grain away, as the median absolute
    response of a Laplacian-like kernel (unit gain for white noise): the median ignores the
    minority of pixels on edges and texture.
    """
    values = []
    for t in sample_tiles(image):
        lap = (
            4 * t[1:-1, 1:-1]
            - 2 * (t[:-2, 1:-1] + t[2:, 1:-1] + t[1:-1, :-2] + t[1:-1, 2:])
            + t[:-2, :-2]
            + t[:-2, 2:]
            + t[2:, :-2]
            + t[2:, 2:]
        )
        values.append(float(np.median(np.abs(lap))) / (0.6745 * 6.0))
    return float(np.median(values)) if values else 0.0
