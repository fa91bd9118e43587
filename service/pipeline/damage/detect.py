"""The damage detector: one mask of everything broken on the print, at full size.

Lines (cracks, scratches, creases) and specks are found on the grey picture; tears (paper-white
regions reaching the edge) by `tears`. The detectors know damage by its width in pixels (a
crack a few across, a speck one to four), and the same crack is six times wider on a 600-dpi
scan than on a small copy of the print, so they look at a pyramid of the picture: the scan
itself for the finest specks (strip by strip), a copy no longer than `WORK_SIDE` for lines
(their length and company need the whole picture at once), and halvings of it down to about
`LEVEL_SIDE` pixels, where lines and specks are sought again. Folds are sought on the smallest
level, where a fold is as wide as on the prints the crease detector was made for. What a
reduced level found is narrowed at full size (`refine`): only the final mask is full-sized.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from service.pipeline import faces
from service.pipeline.damage import (
    blocks,
    creases,
    flatten,
    judge,
    lines,
    pattern,
    refine,
    specks,
    tears,
)
from service.pipeline.ops._common import estimate_noise, reduced
from service.pipeline.parallel import in_background, ordered_map, strips

MIN_SIDE = 32  # pixels: a picture this small has no room for a line to be told from detail
DAMAGE, FOLD = 255, 254  # mask values: rebuilt by the fill; flattened (the picture is beneath)
WORK_SIDE = 2048  # lines are judged on at most this many pixels a side (4 MP, ~60 MB of work)
LEVEL_SIDE = 512  # pixels: levels are halved while they stay at least this long (the size of
# print the line, speck and fold detectors were made on)
LEVEL_SHORT = 128  # pixels: nor is a level's short side less (a panorama's strip is no print)
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


def _faces(grey: np.ndarray) -> list[judge.Box]:
    """Face boxes in `grey`'s pixels (OpenCV's bundled cascade, on a 512-px view)."""
    h, w = grey.shape
    return [
        (round(x * w), round(y * h), round(bw * w), round(bh * h))
        for x, y, bw, bh in faces.find(grey)
    ]


@dataclass(frozen=True)
class Level:
    """Damage found on one level of the pyramid: a mask of that level's size (grown by one of
    its pixels, the full-size rim) and how many scan pixels one of its pixels spans."""

    mask: np.ndarray
    factor: int
    around: np.ndarray | None = None  # reduced levels: the picture's level around the damage


def level_factors(size: tuple[int, int]) -> list[int]:
    """How many scan pixels a pixel of each level spans, finest first: the work copy (no
    longer than WORK_SIDE), then copies of about half its length and less, down to LEVEL_SIDE.
    A level is never shorter than its target: below about 512 pixels the picture's own rims
    and highlights turn into lines as thin as damage. One no smaller than the level before
    is left out."""
    side = max(size)
    out = [math.ceil(side / WORK_SIDE)]
    target = WORK_SIDE // 2
    while target >= LEVEL_SIDE:
        f = side // target
        if f > out[-1] and min(size) // f >= LEVEL_SHORT:
            out.append(f)
        target //= 2
    return out


Look = tuple[lines.Tones, float, tuple[np.ndarray, np.ndarray]]  # tones, grain, fine responses


def _levels(
    copies: list[tuple[Image.Image, int]], noise: float
) -> tuple[list[Level], list[np.ndarray], int, list[judge.Box]]:
    """Lines on each reduced copy (with the factor it was reduced by, finest first) and specks
    on those too coarse for the full-size search; folds on the smallest (their end points in
    scan pixels, and that copy's factor); the faces, in scan pixels. Uses no strip worker:
    it runs on one, beside the full-size specks' search."""

    def look(level: Image.Image, f: int) -> Look:
        """A level's tones, its own grain (box-reducing averages white noise away by the
        factor, but a scan's grain is not white, and an enlarged picture has none) and its
        fine top-hat and black-hat."""
        t = tones(level)
        own = noise if f == 1 else estimate_noise(level)
        return t, own, lines.responses(t.grey, lines.FINE.kernel)

    factor, f_last = copies[0][1], copies[-1][1]
    looks = {len(copies) - 1: look(*copies[-1])}
    # Folds first, on the smallest level: the lines are sought beside them, not across them.
    t_last, noise_last, fine_last = looks[len(copies) - 1]
    in_scan = [e * f_last for e in creases.folds(t_last.grey, *fine_last, noise_last)]
    if 0 not in looks:
        looks[0] = look(*copies[0])
    face_boxes = _faces(looks[0][0].grey)
    levels: list[Level] = []
    for i, (level, f) in enumerate(copies):
        t, level_noise, fine = looks.pop(i) if i in looks else look(level, f)
        step = f / factor
        boxes = [(round(x / step), round(y / step), round(w / step), round(h / step))
                 for x, y, w, h in face_boxes]  # fmt: skip
        folds = ([e / f for e in in_scan], round(creases.HALF_WIDTH * f_last / f))
        found = lines.line_damage(t, level_noise, boxes, fine, folds)
        if i == 0:  # a weave's period is resolved on the finest copy alone
            found |= pattern.broken(t.grey, level_noise)
        if f > 1:  # specks this coarse are too big for the full-size search
            found |= _off_faces(_level_specks(t.grey, level_noise), boxes)
        level_around = None
        if f > 1 and found.any():  # one more pixel all round: the damage's rim at full size
            found = cv2.dilate(found.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
            level_around = refine.around(t.grey, found)
        levels.append(Level(found, f, level_around))
    faces_in_scan = [(x * factor, y * factor, w * factor, h * factor) for x, y, w, h in face_boxes]
    return levels, in_scan, f_last, faces_in_scan


def _off_faces(found: np.ndarray, faces: list[judge.Box], top: int = 0) -> np.ndarray:
    """`found` specks (rows from `top` on) with those within a face cleared, in place: there a
    dark or bright dot is the face's own (a pupil, a nostril, the corner of a mouth, a
    catch-light, a mole), and a face filled in where it needed nothing is the worst a repair
    can do."""
    for x0, y0, x1, y1 in judge.grown_faces(faces):
        found[max(0, y0 - top) : max(0, y1 - top), x0:x1] = False
    return found


def _level_specks(grey: np.ndarray, noise: float) -> np.ndarray:
    """Specks on a reduced level, strip by strip as at full size (`dust_mask` judges a strip)."""
    h = grey.shape[0]
    out = np.zeros(grey.shape, bool)
    for y0, y1 in strips(h, SPECK_ROWS):
        out[y0:y1] = _strip_specks(lambda top, bottom: grey[top:bottom], h, y0, y1, noise)
    return out


def _strip_specks(
    read: Callable[[int, int], np.ndarray], h: int, y0: int, y1: int, noise: float
) -> np.ndarray:
    """The specks of rows y0..y1 of a picture `h` rows high, judged with SPECK_MARGIN rows of
    context either side; `read(top, bottom)` gives those rows' grey."""
    top, bottom = max(0, y0 - SPECK_MARGIN), min(h, y1 + SPECK_MARGIN)
    found: np.ndarray = specks.dust_mask(read(top, bottom), noise)[y0 - top : y1 - top]
    return found


def _fold_bands(mask: Image.Image, ends: list[np.ndarray], half: int) -> None:
    """Mark the bands of the folds `ends` as FOLD in `mask` (empty so far), in place."""
    draw = ImageDraw.Draw(mask)
    for e in ends:
        (x0, y0), (x1, y1) = (tuple(float(v) for v in p) for p in e)
        draw.line([(x0, y0), (x1, y1)], fill=FOLD, width=2 * half + 1)


def _level_at(small: np.ndarray, f: int, top: int, bottom: int, w: int) -> np.ndarray:
    """Scan rows top..bottom of a level's `around`, scaled up smoothly (bilinear, pixel
    centres matched): a picture's gradient must not become steps of `f` pixels."""
    r0, r1 = max(0, top // f - 1), min(small.shape[0], -(-bottom // f) + 1)
    part = small[r0:r1]
    up = cv2.resize(part, (part.shape[1] * f, part.shape[0] * f), interpolation=cv2.INTER_LINEAR)
    out: np.ndarray = up[top - r0 * f :][: bottom - top, :w]
    return out


def _paste_levels(image: Image.Image, mask: Image.Image, levels: list[Level], noise: float) -> None:
    """Mark what each level found as DAMAGE in `mask` (scan-sized), strip by strip: a level
    at the scan's own size as it is, a reduced one narrowed at full size (`refine`)."""
    w, h = image.size
    wanted = [one for one in levels if one.mask.any()]
    if not wanted:
        return
    reach = max(refine.margin(one.factor) for one in wanted)

    def job(span: tuple[int, int]) -> tuple[int, np.ndarray] | None:
        y0, y1 = span
        top, bottom = max(0, y0 - reach), min(h, y1 + reach)
        out = np.zeros((y1 - y0, w), bool)
        grey: np.ndarray | None = None
        for one in wanted:
            f = one.factor
            if not one.mask[top // f : -(-bottom // f)].any():
                continue
            band = blocks.at_scan_size(one.mask, f, (0, top, w, bottom))
            if one.around is not None:
                if grey is None:
                    grey = specks.grey(image.crop((0, top, w, bottom)))
                level = _level_at(one.around, f, top, bottom, w)
                band = refine.narrowed(grey, band, level, f, noise)
            out |= band[y0 - top : y1 - top]
        return (y0, out) if out.any() else None

    for done in ordered_map(job, strips(h, SPECK_ROWS)):
        if done is not None:
            y0, part = done
            box = (0, y0, w, y0 + part.shape[0])
            old = np.asarray(mask.crop(box))
            mask.paste(Image.fromarray(np.where(part, np.uint8(DAMAGE), old), "L"), box)


Specks = list[tuple[int, np.ndarray, np.ndarray]]  # per strip: its top row, the specks' y and x


def _specks(image: Image.Image, noise: float) -> Specks:
    """The dust specks, found strip by strip at full resolution, as pixel positions (dust is a
    few thousand pixels: no full-size mask while the lines are judged beside)."""
    w, h = image.size

    def read(top: int, bottom: int) -> np.ndarray:
        return specks.grey(image.crop((0, top, w, bottom)))

    def job(span: tuple[int, int]) -> tuple[int, np.ndarray, np.ndarray]:
        ys, xs = np.nonzero(_strip_specks(read, h, *span, noise))
        return span[0], ys.astype(np.int32), xs.astype(np.int32)

    return [part for part in ordered_map(job, strips(h, SPECK_ROWS)) if part[1].size]


def _add_specks(mask: Image.Image, found: Specks, faces: list[judge.Box]) -> None:
    """Mark the dust specks `found` in `mask`, in place, but for those within a face (see
    `_off_faces`)."""
    for y0, ys, xs in found:
        box = (0, y0, mask.width, min(mask.height, y0 + SPECK_ROWS))
        part = np.array(mask.crop(box))
        dots = np.zeros(part.shape, bool)
        dots[ys, xs] = True
        part[_off_faces(dots, faces, top=y0)] = DAMAGE
        mask.paste(Image.fromarray(part, "L"), box)


def find(image: Image.Image) -> Found:
    """Everything broken on `image`: a mask of its size and the folds across it."""
    if min(image.size) < MIN_SIDE:
        return Found(Image.new("L", image.size, 0), [])
    noise = estimate_noise(image)
    copies = [(reduced(image, f) if f > 1 else image, f) for f in level_factors(image.size)]
    # The levels are judged on one strip worker (small copies, each all at once) while the
    # specks are looked for on the other, strip by strip at full size.
    judged = in_background(_levels, copies, noise)
    try:
        dust = _specks(image, noise)
    finally:
        levels, ends, scale, faces_in_scan = judged.result()
    del copies
    mask = Image.new("L", image.size, 0)
    half = creases.HALF_WIDTH * scale + scale // 2
    _fold_bands(mask, ends, half)
    _paste_levels(image, mask, levels, noise)
    del levels
    _add_specks(mask, dust, faces_in_scan)
    torn = _tears(image)
    if torn is not None and torn.any():
        mask.paste(DAMAGE, mask=Image.fromarray(torn.view(np.uint8) * np.uint8(255), "L"))
    return Found(mask, [flatten.Fold(e, half, scale) for e in ends])


def detect(image: Image.Image) -> Image.Image:
    """An 'L' mask of `image`'s size, 255 where the print is damaged (folds included)."""
    return as_mask(find(image).mask)


def as_mask(mask: Image.Image) -> Image.Image:
    """The mask as the pipeline shares it: 255 wherever anything is damaged, else 0."""
    return mask.point(lambda v: 255 if v else 0)
