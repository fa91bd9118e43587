"""Shared helpers for the operations: thumbnails for detectors, alpha-safe LUTs, strip processing.

Why strips: a 45-megapixel scan is 135 MB as RGB; a float copy of it is 540 MB. Operations
therefore measure on a small thumbnail and apply their fix strip by strip, so that at any moment
only the input, the output and a few strips are alive. Two strips run at once because Pillow's C
filters and numpy's large-array loops release the GIL.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from service.pipeline.parallel import STRIP_ROWS, WORKERS, ordered_map, strips

THUMB_SIDE = 1024
PARALLEL_MIN_PIXELS = 4_000_000  # below this, handing work to threads costs more than it saves
COLOUR_MODES = ("RGB", "RGBA")


def thumbnail(image: Image.Image, max_side: int = THUMB_SIDE) -> Image.Image:
    """A box-reduced copy no larger than `max_side`; cheap even on a 45-megapixel scan."""
    return reduced(image, math.ceil(max(image.size) / max_side))


def reduced(image: Image.Image, factor: int) -> Image.Image:
    """`image.reduce(factor)` (each pixel the mean of a factor×factor block), in parallel.

    A large image is reduced in bands of whole output rows, one per worker (Pillow's reduce
    releases the GIL); the result is identical to one `reduce` call.
    """
    if factor <= 1:
        return image
    w, h = image.size
    out_w, out_h = math.ceil(w / factor), math.ceil(h / factor)
    if w * h < PARALLEL_MIN_PIXELS or out_h < 2 * WORKERS:
        return image.reduce(factor)
    band = math.ceil(out_h / WORKERS) * factor
    boxes = [(0, y, w, min(h, y + band)) for y in range(0, h, band)]
    out = Image.new(image.mode, (out_w, out_h))
    for y, part in ordered_map(lambda b: (b[1] // factor, image.reduce(factor, b)), boxes):
        out.paste(part, (0, y))
    return out


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


def apply_luts(
    image: Image.Image, luts: list[np.ndarray], *, in_place: bool = False
) -> Image.Image:
    """Apply one 256-entry LUT per colour band with `Image.point`; alpha keeps an identity LUT.
    With `in_place` (the caller may write into `image`: see `registry.Ownership`), strip by
    strip into `image` itself, so no second full-size image is made."""
    bands = len(image.getbands())
    identity = np.arange(256)
    table: list[int] = []
    for i in range(bands):
        n_colour = 3 if image.mode in COLOUR_MODES else 1
        lut = luts[min(i, len(luts) - 1)] if i < n_colour else identity
        table.extend(np.clip(np.rint(lut), 0, 255).astype(np.int64).tolist())
    if not in_place or image.mode not in ("L", "LA", "RGB", "RGBA"):
        return image.point(table)
    for y0, y1 in strips(image.height):
        box = (0, y0, image.width, y1)
        image.paste(image.crop(box).point(table), box)
    return image


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

    def core(strip: Image.Image, a: int, b: int) -> Image.Image | None:
        result = fn(strip)
        return None if result is None else result.crop((0, a, result.width, b))

    return map_strip_rows(image, core, margin=margin, rows=rows)


def map_strip_rows(
    image: Image.Image,
    fn: Callable[[Image.Image, int, int], Image.Image | None],
    *,
    margin: int,
    rows: int = STRIP_ROWS,
) -> Image.Image:
    """Like `map_strips`, but `fn(strip, a, b)` returns only the strip's own rows `a:b` (its
    margins are context), which saves a strip-sized copy per strip when `fn` builds its result
    from arrays anyway."""
    w, h = image.size
    out: Image.Image | None = None

    def job(span: tuple[int, int]) -> tuple[int, Image.Image | None]:
        y0, y1 = span
        top, bottom = max(0, y0 - margin), min(h, y1 + margin)
        return y0, fn(image.crop((0, top, w, bottom)), y0 - top, y1 - top)

    for y0, result in ordered_map(job, strips(h, rows)):
        if result is None:
            continue
        if out is None:
            out = image.copy()
        out.paste(result, (0, y0))
        del result
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
