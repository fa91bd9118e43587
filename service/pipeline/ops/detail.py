"""Detail: a gentle unsharp mask for scans that came out soft.

Softness is judged at full resolution (a thumbnail is always sharp) on sample tiles, as the
share of fine detail (radius 1) in the detail up to radius 3. In-focus photos keep a good
part of their contrast at the finest scale; soft scans lose it first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from service.pipeline.ops._common import map_strips, sample_tiles, split_alpha, with_alpha
from service.pipeline.registry import OpContext, register

SOFT_RATIO = 0.3  # fine/coarse detail ratio below which a scan is called soft (a brick wall: 0.33)
MIN_DETAIL = 1.5  # grey levels of coarse detail; flat tiles (sky, walls) say nothing about focus


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return np.asarray(im.filter(ImageFilter.GaussianBlur(radius)), np.float32)


def softness(image: Image.Image) -> float:
    """Fine-to-coarse detail ratio of the most detailed tiles; lower is softer (inf if flat)."""
    ratios = []
    for t in sample_tiles(image):
        b1, b3 = _blur(t, 1.0), _blur(t, 3.0)
        fine, coarse = float(np.mean(np.abs(t - b1))), float(np.mean(np.abs(b1 - b3)))
        if coarse >= MIN_DETAIL:
            ratios.append((coarse, fine / coarse))
    if not ratios:
        return math.inf
    ratios.sort(reverse=True)
    top = ratios[: max(1, len(ratios) // 2)]
    return float(np.median([r for _, r in top]))


@register("sharpen", "Sharpen gently, only when the scan is soft")
def sharpen(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Unsharp mask (radius 1.5, 60 %, threshold 3: grain stays put); same image when crisp."""
    if softness(image) >= SOFT_RATIO:
        return image
    base, alpha = split_alpha(image)
    mask = ImageFilter.UnsharpMask(radius=1.5, percent=60, threshold=3)
    out = map_strips(base, lambda s: s.filter(mask), margin=8)
    if out is base:
        out = base.copy()
    return with_alpha(out, alpha)
