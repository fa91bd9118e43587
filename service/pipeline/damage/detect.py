"""The damage detector: one mask of everything broken on the print, at full size.

Lines (cracks, scratches, creases) and specks are found on the grey picture; tears (paper-white
regions reaching the edge) by `tears` when that detector is present. Specks vanish in a
thumbnail, so they are looked for at full resolution, strip by strip. Lines are judged on their
length and company, which needs the whole picture at once; on a big scan that is done on a
box-reduced copy no longer than `WORK_SIDE` (a line a few pixels wide at 600 dpi is still
one there), and the mask is scaled back up. Only the final mask is full-sized.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageChops

from service.pipeline.damage import lines, specks
from service.pipeline.ops._common import estimate_noise, reduced
from service.pipeline.parallel import ordered_map, strips

WORK_SIDE = 2048  # lines are judged on at most this many pixels a side (4 MP, ~60 MB of work)
SPECK_ROWS = 256
SPECK_MARGIN = 8  # rows of context above and below a strip: the median's and the blur's reach


def tones(image: Image.Image) -> lines.Tones:
    """The grey picture and its palest and deepest band per pixel (uint8)."""
    if image.mode in ("L", "LA"):
        grey = np.asarray(image.getchannel(0))
        return lines.Tones(grey, grey, grey)
    rgb = np.asarray(image.convert("RGB"))
    grey = np.asarray(image.convert("RGB").convert("L"))
    return lines.Tones(grey, rgb.min(axis=2), rgb.max(axis=2))


def _grey(image: Image.Image) -> np.ndarray:
    band = image.getchannel(0) if image.mode in ("L", "LA") else image.convert("RGB").convert("L")
    return np.asarray(band)


def _tears(image: Image.Image) -> np.ndarray | None:
    """The tear detector's mask, when the `tears` module is there (it is optional)."""
    try:
        from service.pipeline.damage import tears  # type: ignore[attr-defined]
    except ImportError:
        return None
    found: np.ndarray | None = tears.tear_mask(image)
    return found


def _line_mask(image: Image.Image, noise: float) -> Image.Image:
    """Damage lines as a full-size 'L' mask, found on a reduced copy of a big scan."""
    factor = math.ceil(max(image.size) / WORK_SIDE)
    small = reduced(image, factor) if factor > 1 else image
    found = lines.damage_lines(tones(small), noise / factor)
    mask = Image.fromarray(found.view(np.uint8) * np.uint8(255), "L")
    if factor == 1:
        return mask
    # Bilinear, then anything touched: the scaled-up line covers its full-size rim too.
    return mask.resize(image.size, Image.Resampling.BILINEAR).point(lambda v: 255 if v else 0)


def _speck_mask(image: Image.Image, noise: float) -> Image.Image:
    """Dust specks as a full-size 'L' mask, found strip by strip at full resolution."""
    w, h = image.size
    out = Image.new("L", image.size, 0)

    def job(span: tuple[int, int]) -> tuple[int, Image.Image | None]:
        y0, y1 = span
        top, bottom = max(0, y0 - SPECK_MARGIN), min(h, y1 + SPECK_MARGIN)
        found = specks.speck_mask(_grey(image.crop((0, top, w, bottom))), noise)
        core = found[y0 - top : y1 - top]
        if not core.any():
            return y0, None
        return y0, Image.fromarray(core.view(np.uint8) * np.uint8(255), "L")

    for y0, part in ordered_map(job, strips(h, SPECK_ROWS)):
        if part is not None:
            out.paste(part, (0, y0))
    return out


def detect(image: Image.Image) -> Image.Image:
    """An 'L' mask of `image`'s size, 255 where the print is damaged."""
    noise = estimate_noise(image)
    mask = ImageChops.lighter(_line_mask(image, noise), _speck_mask(image, noise))
    torn = _tears(image)
    if torn is not None and torn.any():
        mask = ImageChops.lighter(mask, Image.fromarray(torn.view(np.uint8) * np.uint8(255), "L"))
    return mask
