"""The damage detector: one mask of everything broken on the print, at full size.

Lines (cracks, scratches, creases) and specks are found on the grey picture; tears (paper-white
regions reaching the edge) by `tears`. Specks vanish in a
thumbnail, so they are looked for at full resolution, strip by strip. Lines are judged on their
length and company, which needs the whole picture at once; on a big scan that is done on a
box-reduced copy no longer than `WORK_SIDE` (a line a few pixels wide at 600 dpi is still
one there), and the mask is scaled back up. Only the final mask is full-sized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from service.pipeline import faces
from service.pipeline.damage import creases, flatten, lines, specks, tears
from service.pipeline.ops._common import estimate_noise, reduced
from service.pipeline.parallel import in_background, ordered_map, strips

MIN_SIDE = 32  # pixels: a picture this small has no room for a line to be told from detail
DAMAGE, FOLD = 255, 254  # mask values: rebuilt by the fill; flattened (the picture is beneath)
WORK_SIDE = 2048  # lines are judged on at most this many pixels a side (4 MP, ~60 MB of work)
SPECK_ROWS = 256
SPECK_MARGIN = 8  # rows of context above and below a strip: the median's and the blur's reach


def tones(image: Image.Image) -> lines.Tones:
    """The grey picture and its palest and deepest band per pixel (uint8)."""
    if image.mode in ("L", "LA"):
        grey = np.asarray(image.getchannel(0))
        return lines.Tones(grey, grey, grey)
    rgb = image.convert("RGB")
    grey = np.asarray(rgb.convert("L"))
    r, g, b = (np.asarray(band) for band in rgb.split())
    return lines.Tones(grey, cv2.min(cv2.min(r, g), b), cv2.max(cv2.max(r, g), b))


def _tears(image: Image.Image) -> np.ndarray | None:
    """The tear detector's mask (None when there is no tear)."""
    found = tears.tear_mask(image)
    return None if found is None else np.asarray(found, bool)


@dataclass(frozen=True)
class Found:
    """What the detector found: the mask (`DAMAGE` where a fill rebuilds the picture, `FOLD`
    where a fold is to be flattened instead) and the folds themselves."""

    mask: Image.Image
    folds: list[flatten.Fold]


def _faces(grey: np.ndarray) -> list[lines.Box]:
    """Face boxes in `grey`'s pixels (OpenCV's bundled cascade, on a 512-px view)."""
    h, w = grey.shape
    return [
        (round(x * w), round(y * h), round(bw * w), round(bh * h))
        for x, y, bw, bh in faces.find(grey)
    ]


def _judge_lines(small: Image.Image, size: tuple[int, int], factor: int, noise: float) -> Found:
    """Damage lines as a full-`size` 'L' mask, judged on `small` (the scan reduced by
    `factor`). Uses no strip worker: it runs on one, beside the specks' search."""
    t = tones(small)
    found, ends = lines.damage_lines(t, noise / factor, _faces(t.grey))
    if factor > 1:  # one more small pixel all round: the full-size line's rim
        found = cv2.dilate(found.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    values = np.where(found, np.uint8(DAMAGE), np.uint8(0))
    values[creases.band(values.shape, ends, creases.HALF_WIDTH) & ~found] = FOLD
    mask = Image.fromarray(values, "L")
    if factor > 1:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    half = creases.HALF_WIDTH * factor + factor // 2
    return Found(mask, [flatten.Fold(e * factor, half, factor) for e in ends])


Specks = list[tuple[int, np.ndarray, np.ndarray]]  # per strip: its top row, the specks' y and x


def _specks(image: Image.Image, noise: float) -> Specks:
    """The dust specks, found strip by strip at full resolution, as pixel positions (dust is a
    few thousand pixels: no full-size mask while the lines are judged beside)."""
    w, h = image.size

    def job(span: tuple[int, int]) -> tuple[int, np.ndarray, np.ndarray]:
        y0, y1 = span
        top, bottom = max(0, y0 - SPECK_MARGIN), min(h, y1 + SPECK_MARGIN)
        found = specks.dust_mask(specks.grey(image.crop((0, top, w, bottom))), noise)
        ys, xs = np.nonzero(found[y0 - top : y1 - top])
        return y0, ys.astype(np.int32), xs.astype(np.int32)

    return [part for part in ordered_map(job, strips(h, SPECK_ROWS)) if part[1].size]


def _add_specks(mask: Image.Image, found: Specks) -> None:
    """Mark the dust specks `found` in `mask`, in place."""
    for y0, ys, xs in found:
        box = (0, y0, mask.width, min(mask.height, y0 + SPECK_ROWS))
        part = np.array(mask.crop(box))
        part[ys, xs] = DAMAGE
        mask.paste(Image.fromarray(part, "L"), box)


def find(image: Image.Image) -> Found:
    """Everything broken on `image`: a mask of its size and the folds across it."""
    if min(image.size) < MIN_SIDE:
        return Found(Image.new("L", image.size, 0), [])
    noise = estimate_noise(image)
    factor = math.ceil(max(image.size) / WORK_SIDE)
    small = reduced(image, factor) if factor > 1 else image
    # The lines are judged on one strip worker (the reduced copy, all at once) while the
    # specks are looked for on the other, strip by strip at full size.
    judged = in_background(_judge_lines, small, image.size, factor, noise)
    try:
        dust = _specks(image, noise)
    finally:
        found = judged.result()
    _add_specks(found.mask, dust)
    torn = _tears(image)
    if torn is not None and torn.any():
        found.mask.paste(DAMAGE, mask=Image.fromarray(torn.view(np.uint8) * np.uint8(255), "L"))
    return found


def detect(image: Image.Image) -> Image.Image:
    """An 'L' mask of `image`'s size, 255 where the print is damaged (folds included)."""
    return as_mask(find(image).mask)


def as_mask(mask: Image.Image) -> Image.Image:
    """The mask as the pipeline shares it: 255 wherever anything is damaged, else 0."""
    return mask.point(lambda v: 255 if v else 0)
