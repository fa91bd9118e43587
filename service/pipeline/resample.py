"""Rotation with a crop in one resampling pass: what deskew and straighten do to a scan, and
what the replay of a chain's frame changes does to the original (`transforms.replay`), so the
two line up pixel for pixel.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from service.pipeline.parallel import STRIP_ROWS, ordered_map, strips

WARP_ROWS = 256  # output rows of a tile of the OpenCV warp
WARP_TILE = 1024  # output columns of a tile: its input box stays ~1 MB at any tilt


def inscribed_size(w: float, h: float, degrees: float) -> tuple[float, float]:
    """The largest axis-aligned rectangle inside a w×h rectangle rotated by `degrees`."""
    a = math.radians(degrees)
    sin_a, cos_a = abs(math.sin(a)), abs(math.cos(a))
    if sin_a < 1e-12:
        return w, h
    long_side, short_side = max(w, h), min(w, h)
    if short_side <= 2 * sin_a * cos_a * long_side or abs(sin_a - cos_a) < 1e-10:
        x = 0.5 * short_side
        return (x / sin_a, x / cos_a) if w >= h else (x / cos_a, x / sin_a)
    cos_2a = cos_a * cos_a - sin_a * sin_a
    return (w * cos_a - h * sin_a) / cos_2a, (h * cos_a - w * sin_a) / cos_2a


def inscribed_box(w: int, h: int, degrees: float) -> tuple[float, float, float, float]:
    """`rotate_crop`'s default box: the inscribed rectangle, centred, one pixel in (so no fill
    colour shows)."""
    iw, ih = inscribed_size(w, h, degrees)
    ox, oy = (w - iw) / 2 + 1, (h - ih) / 2 + 1
    return ox, oy, w - ox, h - oy


def rotate_crop(
    image: Image.Image,
    degrees: float,
    box: tuple[float, float, float, float] | None = None,
    *,
    fill: float | tuple[int, ...] | None = None,
    resample: Image.Resampling = Image.Resampling.BICUBIC,
) -> Image.Image:
    """Rotate counter-clockwise by `degrees` and keep `box` of the rotated frame (default: the
    inscribed rectangle), in one resampling pass done strip by strip."""
    w, h = image.size
    left, top, right, bottom = box if box is not None else inscribed_box(w, h, degrees)
    out_w, out_h = max(1, int(right - left)), max(1, int(bottom - top))
    a = -math.radians(degrees)
    ca, sa = math.cos(a), math.sin(a)
    cx, cy = w / 2, h / 2
    if resample == Image.Resampling.BILINEAR and image.mode in ("RGB", "L") and fill is None:
        return _bilinear(image, (ca, sa), (left - cx, top - cy), (out_w, out_h))
    out = Image.new(image.mode, (out_w, out_h), fill)

    def data(y0: int) -> tuple[float, ...]:
        dx, dy = left - cx, top + y0 - cy
        return (ca, sa, ca * dx + sa * dy + cx, -sa, ca, -sa * dx + ca * dy + cy)

    # Resample straight into the output's rows: no strip copies and no paste. Pillow's public
    # transform does exactly this into a fresh image; alpha modes need its premultiplication.
    direct = image.mode not in ("RGBA", "LA") and hasattr(out.im, "transform")
    affine = Image.Transform.AFFINE
    if direct:
        image.load()
        out.load()

    def part(span: tuple[int, int]) -> None:
        y0, y1 = span
        if direct:
            out.im.transform((0, y0, out_w, y1), image.im, affine, data(y0), resample, fill is None)
        else:
            size = (out_w, y1 - y0)
            strip = image.transform(size, affine, data(y0), resample, fillcolor=fill)
            out.paste(strip, (0, y0))

    # Pillow's transform releases the GIL: two strips at once use both cores; each strip writes
    # only its own rows.
    for _ in ordered_map(part, strips(out_h, STRIP_ROWS)):
        pass
    return out


def _bilinear(
    image: Image.Image, rot: tuple[float, float], origin: tuple[float, float], size: tuple[int, int]
) -> Image.Image:
    """`rotate_crop` for a large scan: OpenCV's bilinear warp with the same map as Pillow's,
    about twice as fast at 45 megapixels. Each output tile is warped from the small box of input
    it maps onto, so no temporary is larger than a tile or a strip (a
    band of whole input rows would grow with the tilt: 1,200 rows at 10° across 6,700 pixels);
    tiles go straight into the result, with no strip image between."""
    ca, sa = rot
    out_w, out_h = size
    linear = np.array([[ca, sa], [-sa, ca]])
    out = Image.new(image.mode, size)

    boxes = [
        (x0, y0, min(out_w, x0 + WARP_TILE), y1)
        for y0, y1 in strips(out_h, WARP_ROWS)
        for x0 in range(0, out_w, WARP_TILE)
    ]

    def part(box: tuple[int, int, int, int]) -> tuple[tuple[int, int], Image.Image]:
        return box[:2], _warp_tile(image, linear, origin, box)

    for corner, tile in ordered_map(part, boxes):
        out.paste(tile, corner)
    return out


def _warp_tile(
    image: Image.Image, linear: np.ndarray, origin: tuple[float, float], box: tuple[int, ...]
) -> Image.Image:
    """Output box (x0, y0, x1, y1) of the rotated frame, warped from the input it maps onto."""
    w, h = image.size
    x0, y0, x1, y1 = box
    dx, dy = origin[0] + x0, origin[1] + y0
    # Pillow maps output corners to input corners; OpenCV maps pixel centres onto pixel centres.
    shift = linear @ np.array([dx + 0.5, dy + 0.5]) + np.array([w / 2, h / 2]) - 0.5
    corners = np.array([[0, 0], [x1 - x0, 0], [0, y1 - y0], [x1 - x0, y1 - y0]]) @ linear.T
    xs, ys = corners[:, 0] + shift[0], corners[:, 1] + shift[1]
    c0 = min(w - 1, max(0, math.floor(xs.min()) - 2))
    r0 = min(h - 1, max(0, math.floor(ys.min()) - 2))
    c1 = max(c0 + 1, min(w, math.ceil(xs.max()) + 3))
    r1 = max(r0 + 1, min(h, math.ceil(ys.max()) + 3))
    src = np.asarray(image.crop((c0, r0, c1, r1)))
    matrix = np.hstack([linear, (shift - np.array([c0, r0], float))[:, None]])
    tile = cv2.warpAffine(
        src,
        matrix,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return Image.fromarray(tile, image.mode)
