"""The aligned "before": the original carried through the same frame changes as the result, at
preview size, so a before/after slider compares like with like.

The result of a chain is cropped, turned, straightened, perhaps warped back onto the scan after
a model moved it (`transforms`); the original as scanned is not, so the two halves of a slider
over them do not line up. Replaying the frame log on the full-size original (what the
keep-original brush does, `transforms.replay`) would keep a second full-size image alive for the
whole run, and the merge could no longer write its result into the scan's own memory. So the
original is reduced first (`proxy`, a few megabytes), and the frame log is composed into one
affine map from the result's pixels to the original's (`frame_map`), applied to the reduced copy
in one resampling (`replay_small`): no blur piles up from one step to the next, and a model's
answer made smaller and brought back costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from service.pipeline.ops._common import reduced
from service.pipeline.resample import inscribed_box
from service.pipeline.transforms import Transform

PREVIEW_MODES = ("RGB", "L")


@dataclass(frozen=True)
class Proxy:
    """A reduced copy of the original: `scale` of its pixels per pixel of the original."""

    image: Image.Image
    scale: float
    size: tuple[int, int]  # the original's size


def proxy(image: Image.Image, edge: int) -> Proxy:
    """A copy of `image` box-reduced by a whole factor to about `edge` pixels on its long side
    (always a new image: the caller may then let go of the original)."""
    factor = max(1, math.ceil(max(image.size) / edge))
    small = reduced(image, factor) if factor > 1 else image.copy()
    if small.mode not in PREVIEW_MODES:
        small = small.convert("L" if small.mode in ("LA", "I", "I;16", "F", "1") else "RGB")
    # Reducing by f maps the block [i·f, (i+1)·f) to pixel i: pixel corners scale by exactly 1/f
    # (a last, partial block only makes the copy reach a little past the original's edge).
    return Proxy(small, 1 / factor, image.size)


def preview_size(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """`size` fitted within `edge` on its long side (unchanged when already smaller)."""
    w, h = size
    if max(w, h) <= edge:
        return w, h
    scale = edge / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _step(t: Transform, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """One transform as a 3×3 map from its output's pixel coordinates (corners, as Pillow's
    transforms use) to its input's, and its output size."""
    w, h = size
    p = t.params
    if t.kind == "crop":
        left, top, right, bottom = (float(v) for v in p["box"])
        out = (round(right - left), round(bottom - top))
        return np.array([[1, 0, left], [0, 1, top], [0, 0, 1]], float), out
    if t.kind == "rotate_crop":
        return _rotate_crop(float(p["degrees"]), p.get("box"), size)
    if t.kind == "transpose":
        return _transpose(int(p["method"]), size)
    if t.kind == "resize":
        ow, oh = (int(v) for v in p["size"])
        return np.array([[w / ow, 0, 0], [0, h / oh, 0], [0, 0, 1]], float), (ow, oh)
    if t.kind == "warp":
        ow, oh = (int(v) for v in p["size"])
        unit = np.vstack([np.asarray(p["matrix"], float), [0, 0, 1]])
        return np.diag([w, h, 1.0]) @ unit @ np.diag([1 / ow, 1 / oh, 1.0]), (ow, oh)
    raise ValueError(f"unknown transform {t.kind!r}")


def _rotate_crop(
    degrees: float, box: Sequence[float] | None, size: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int]]:
    """`resample.rotate_crop`'s map: rotation about the centre, then the box of the rotated frame
    (`resample.inscribed_box` when no box was given)."""
    w, h = size
    left, top, right, bottom = (
        (float(v) for v in box) if box is not None else inscribed_box(w, h, degrees)
    )
    a = -math.radians(degrees)
    ca, sa = math.cos(a), math.sin(a)
    dx, dy = left - w / 2, top - h / 2
    m = np.array(
        [[ca, sa, ca * dx + sa * dy + w / 2], [-sa, ca, -sa * dx + ca * dy + h / 2], [0, 0, 1]]
    )
    return m, (max(1, int(right - left)), max(1, int(bottom - top)))


def _transpose(method: int, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Image.transpose's map: (input x, input y) as linear terms of (u, v, 1)."""
    w, h = size
    t = Image.Transpose
    rows = {
        t.FLIP_LEFT_RIGHT: ((-1, 0, w), (0, 1, 0)),
        t.FLIP_TOP_BOTTOM: ((1, 0, 0), (0, -1, h)),
        t.ROTATE_90: ((0, -1, w), (1, 0, 0)),
        t.ROTATE_180: ((-1, 0, w), (0, -1, h)),
        t.ROTATE_270: ((0, 1, 0), (-1, 0, h)),
        t.TRANSPOSE: ((0, 1, 0), (1, 0, 0)),
        t.TRANSVERSE: ((0, -1, w), (-1, 0, h)),
    }
    kind = t(method)
    row_x, row_y = rows[kind]
    swaps = kind in (t.ROTATE_90, t.ROTATE_270, t.TRANSPOSE, t.TRANSVERSE)
    return np.array([row_x, row_y, (0, 0, 1)], float), ((h, w) if swaps else (w, h))


def frame_map(
    transforms: Sequence[Transform], size: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int]]:
    """The whole frame log as one map from the final frame's pixels to the first frame's (of
    `size`), and the final frame's size."""
    m = np.eye(3)
    for t in transforms:
        step, size = _step(t, size)
        m = m @ step
    return m, size


def replay_small(
    source: Proxy, transforms: Sequence[Transform], out_size: tuple[int, int]
) -> Image.Image:
    """The reduced original through `transforms`, at `out_size` (the result's frame, fitted).

    One affine resampling from the reduced copy at its own density, then one Lanczos reduction
    to `out_size` when the copy is much denser: an affine map alone would point-sample and alias.
    """
    m, final = frame_map(transforms, source.size)
    density = source.scale * max(final[0] / out_size[0], final[1] / out_size[1])
    work = out_size
    if density > 1.25:
        work = (round(out_size[0] * density), round(out_size[1] * density))
    to_final = np.diag([final[0] / work[0], final[1] / work[1], 1.0])
    to_source = np.diag([source.scale, source.scale, 1.0]) @ m @ to_final
    data = tuple(float(v) for v in to_source[:2].ravel())
    image = source.image.transform(work, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)
    if work != out_size:
        image = image.resize(out_size, Image.Resampling.LANCZOS)
    return image


MASK_GAIN = 4  # coverage × 4: a one-pixel crack stays visible at a quarter of its size


def mask_view(mask: Image.Image, out_size: tuple[int, int]) -> Image.Image:
    """A damage mask ('L', 255 = damaged, in the result's frame) at `out_size`, the aligned
    "before"'s size, to be drawn over it: area-averaged, so thin cracks become faint rather
    than vanish as point sampling would drop them, then brightened so they stay visible."""
    small = mask.convert("L")
    if small.size != out_size:
        small = small.resize(out_size, Image.Resampling.BOX)
    return small.point(lambda v: min(255, v * MASK_GAIN))
