"""Framing of the print inside the scan: the flatbed border around it and its skew.

Both act only on evidence: the print's own cut edges against a flat scanner bed, found on at
least two sides (`_edges.find_print`). The picture's lines (a horizon, a door frame, a scratch
or a crack) are never measured, so a photo with no bed around it comes back as the very same
object, its size and orientation untouched. Detection works on a thumbnail; the fix is one crop
or one rotation with a crop at full size, so the scan is resampled at most once.
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image

from service.pipeline import transforms
from service.pipeline.ops._common import grey_array, thumbnail
from service.pipeline.ops._edges import Edge, PrintEdges, find_print
from service.pipeline.registry import OpContext, register
from service.pipeline.resample import inscribed_size, rotate_crop

MIN_SKEW = 0.3  # degrees; below this a correction would only soften the scan
KEEP_BED = 2  # thumbnail pixels of bed left around a tilted print, for deskew to measure
MIN_PRINT_SHARE = 0.2  # a "print" smaller than this share of a side was not found right
BILINEAR_MIN_PIXELS = 12_000_000  # from here on a scan is oversampled enough for bilinear

SIDES = ("left", "top", "right", "bottom")  # in the order of a box's coordinates

Box = tuple[float, float, float, float]


def find(image: Image.Image) -> tuple[PrintEdges | None, float, float]:
    """The print's edges on a thumbnail of `image`, and the thumbnail-to-full scale (x, y)."""
    thumb = thumbnail(image)
    found = find_print(grey_array(thumb))
    return found, image.width / thumb.width, image.height / thumb.height


def estimate_skew(g: Any) -> float:
    """The print's counter-clockwise rotation in the grey thumbnail `g`, in degrees; 0.0 when no
    print edge against a scanner bed is found."""
    found = find_print(g)
    return 0.0 if found is None else found.degrees


def _line_at(edge: Edge, extent: float, margin: float, *, into_print: bool) -> float:
    """The line's position over the side furthest into the print, `margin` pixels further in;
    or (not `into_print`) nearest the bed, `margin` pixels out onto the bed."""
    inward = 1.0 if edge.side in ("top", "left") else -1.0
    towards = inward if into_print else -inward
    ends = (edge.across(0.0), edge.across(extent))
    return (max(ends) if towards > 0 else min(ends)) + towards * margin


def border_box(found: PrintEdges, keep_bed: bool) -> Box:
    """The crop in thumbnail pixels: inside the print (one pixel in, past the soft transition
    of the reduced edge) or, for a tilted print, around it with a little bed left over."""
    w, h = found.size
    box = [0.0, 0.0, float(w), float(h)]
    for index, side in enumerate(SIDES):
        edge = found.edges.get(side)
        if edge is None:
            continue
        extent = float(w if side in ("top", "bottom") else h)
        limit = float(w if side in ("left", "right") else h)
        margin = KEEP_BED if keep_bed else 1.0
        pos = _line_at(edge, extent, margin, into_print=not keep_bed)
        box[index] = min(max(pos, 0.0), limit)
    return box[0], box[1], box[2], box[3]


def _scaled(box: Box, sx: float, sy: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    w, h = size
    return (
        max(0, math.ceil(left * sx)),
        max(0, math.ceil(top * sy)),
        min(w, math.floor(right * sx)),
        min(h, math.floor(bottom * sy)),
    )


def _plausible(frame: tuple[int, int, int, int], size: tuple[int, int]) -> bool:
    left, top, right, bottom = frame
    w, h = size
    return right - left >= MIN_PRINT_SHARE * w and bottom - top >= MIN_PRINT_SHARE * h


@register("remove_border", "Crop the scanner's flat background around the print")
def remove_border(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Cut away the lid or backing around the print; the same image when no bed is found.
    A tilted print keeps a thin band of bed around it: deskew measures its edges there."""
    found, sx, sy = find(image)
    if found is None:
        return image
    frame = _scaled(border_box(found, abs(found.degrees) >= MIN_SKEW), sx, sy, image.size)
    if frame == (0, 0, image.width, image.height) or not _plausible(frame, image.size):
        return image
    transforms.record("crop", box=frame)
    return image.crop(frame)


def _rotated_box(found: PrintEdges, sx: float, sy: float, size: tuple[int, int]) -> Box:
    """The crop, in the frame rotated level, that keeps only the print (and no fill): each
    found cut, rotated level; a side without one is trimmed of the bed the rotation shows."""
    w, h = size
    a = math.radians(found.degrees)  # rotate_crop(-degrees) maps output X to input M(X-c)+c
    ca, sa = math.cos(a), math.sin(a)
    cx, cy = w / 2, h / 2

    def level(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return ca * dx - sa * dy + cx, sa * dx + ca * dy + cy

    iw, ih = inscribed_size(w, h, found.degrees)
    box = [(w - iw) / 2 + 1, (h - ih) / 2 + 1, (w + iw) / 2 - 1, (h + ih) / 2 - 1]
    tw, th = found.size
    for index, side in enumerate(SIDES):
        edge = found.edges.get(side)
        if edge is None:
            continue
        inward = 1.0 if side in ("top", "left") else -1.0
        ends = (0.0, float(tw if side in ("top", "bottom") else th))
        points = [
            (t * sx, (edge.across(t) + inward) * sy)
            if side in ("top", "bottom")
            else ((edge.across(t) + inward) * sx, t * sy)
            for t in ends
        ]
        coord = 1 if side in ("top", "bottom") else 0
        values = [level(x, y)[coord] for x, y in points]
        box[index] = max(values) if inward > 0 else min(values)
    _corners(box, found, level, sx, sy)
    return _inside_scan(box, ca, sa, size, (iw, ih))


def _corners(box: list[float], found: PrintEdges, level: Any, sx: float, sy: float) -> None:
    """Bound each side without a cut of its own by where its neighbours' cuts end (the print's
    corners), rotated level; one thumbnail pixel in, past the rounded corner of the paper."""
    for index, side in enumerate(SIDES):
        if side in found.edges:
            continue
        vertical = side in ("left", "right")
        ends = []
        for other in ("top", "bottom") if vertical else ("left", "right"):
            edge = found.edges.get(other)
            if edge is None:
                continue
            t = edge.span[0] if side in ("left", "top") else edge.span[1]
            x, y = (t, edge.across(t)) if vertical else (edge.across(t), t)
            ends.append(level(x * sx, y * sy)[0 if vertical else 1])
        if not ends:
            continue
        step = sx if vertical else sy
        box[index] = max(ends) + step if side in ("left", "top") else min(ends) - step


def _inside_scan(
    box: list[float], ca: float, sa: float, size: tuple[int, int], inscribed: tuple[float, float]
) -> Box:
    """`box`, narrowed to the inscribed rectangle when a corner would fall outside the scan."""
    w, h = size

    def inside(x: float, y: float) -> bool:
        dx, dy = x - w / 2, y - h / 2  # back into the scan: rotate_crop's own mapping
        return (
            -0.5 <= ca * dx + sa * dy + w / 2 <= w + 0.5
            and -0.5 <= -sa * dx + ca * dy + h / 2 <= h + 0.5
        )

    left, top, right, bottom = box
    if all(inside(x, y) for x in (left, right) for y in (top, bottom)):
        return left, top, right, bottom
    iw, ih = inscribed
    return (
        max(left, (w - iw) / 2 + 1),
        max(top, (h - ih) / 2 + 1),
        min(right, (w + iw) / 2 - 1),
        min(bottom, (h + ih) / 2 - 1),
    )


@register("deskew", "Straighten a print scanned slightly askew (up to ±10°)")
def deskew(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Rotate the print level by its own edges and crop to it; the same image when no print
    edge against a scanner bed is found or the print lies level."""
    found, sx, sy = find(image)
    if found is None or abs(found.degrees) < MIN_SKEW:
        return image
    box = _rotated_box(found, sx, sy, image.size)
    rounded = (math.ceil(box[0]), math.ceil(box[1]), math.floor(box[2]), math.floor(box[3]))
    if not _plausible(rounded, image.size):
        return image
    # A large scan samples the print far finer than its detail, so bilinear resampling loses
    # nothing visible there and is three times faster than bicubic; a small image keeps bicubic.
    large = image.width * image.height >= BILINEAR_MIN_PIXELS
    resample = Image.Resampling.BILINEAR if large else Image.Resampling.BICUBIC
    transforms.record("rotate_crop", degrees=-found.degrees, box=rounded, resample=int(resample))
    return rotate_crop(image, -found.degrees, rounded, resample=resample)
