"""The damage detector: one mask of everything broken on the print, at full size.

Lines (cracks, scratches, creases) and specks are found on the grey picture; tears (paper-white
regions reaching the edge) by `tears` when that detector is present. Thin lines vanish in a
thumbnail, so lines and specks are looked for at full resolution, strip by strip with an
overlap wide enough for a line's whole neighbourhood; only the final mask is full-sized.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from service.pipeline.damage import lines, specks
from service.pipeline.ops._common import estimate_noise


def tones(image: Image.Image) -> lines.Tones:
    """The grey picture and its palest and deepest band per pixel (uint8)."""
    if image.mode in ("L", "LA"):
        grey = np.asarray(image.getchannel(0))
        return lines.Tones(grey, grey, grey)
    rgb = np.asarray(image.convert("RGB"))
    grey = np.asarray(image.convert("RGB").convert("L"))
    return lines.Tones(grey, rgb.min(axis=2), rgb.max(axis=2))


def _tears(image: Image.Image) -> np.ndarray | None:
    """The tear detector's mask, when the `tears` module is there (it is optional)."""
    try:
        from service.pipeline.damage import tears  # type: ignore[attr-defined]
    except ImportError:
        return None
    found: np.ndarray | None = tears.tear_mask(image)
    return found


def detect(image: Image.Image) -> Image.Image:
    """An 'L' mask of `image`'s size, 255 where the print is damaged."""
    noise = estimate_noise(image)
    t = tones(image)
    mask = lines.damage_lines(t, noise) | specks.speck_mask(t.grey, noise)
    torn = _tears(image)
    if torn is not None:
        mask |= torn
    return Image.fromarray(mask.view(np.uint8) * np.uint8(255), "L")
