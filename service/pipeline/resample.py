"""Rotation with a crop in one resampling pass: what deskew and straighten do to a scan, and
what the replay of a chain's frame changes does to the original (`transforms.replay`), so the
two line up pixel for pixel.
"""

from __future__ import annotations

import math

from PIL import Image

from service.pipeline.parallel import STRIP_ROWS, ordered_map, strips


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
    if box is None:
        iw, ih = inscribed_size(w, h, degrees)
        ox, oy = (w - iw) / 2 + 1, (h - ih) / 2 + 1  # one pixel in: no fill colour shows
        box = (ox, oy, w - ox, h - oy)
    left, top, right, bottom = box
    out_w, out_h = max(1, int(right - left)), max(1, int(bottom - top))
    a = -math.radians(degrees)
    ca, sa = math.cos(a), math.sin(a)
    cx, cy = w / 2, h / 2
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
