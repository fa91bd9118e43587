"""Cleanup of damage that sits on top of the photo: dust specks, thin scratches and grain.

Both operations decide at full resolution (a thumbnail would average specks and grain away)
and work strip by strip in integer numpy, so memory stays at input + output + a few strips.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from service.pipeline.damage.specks import STEP, dust_mask, grey
from service.pipeline.ops._common import estimate_noise, map_strip_rows, map_strips
from service.pipeline.registry import OpContext, register

NOISE_THRESHOLD = 3.0  # grey levels of estimated noise below which denoising only blurs
NUMPY_STRIP_ROWS = 128  # small strips: integer temporaries of a 6,700-px-wide strip stay ~10 MB
DUST_STRIP_ROWS = 64  # dust keeps a dozen strip-sized arrays alive: smaller strips, lower peak


def _repair(strip: Image.Image, noise: float, a: int, b: int) -> Image.Image | None:
    """Rows `a:b` of `strip` with their flagged pixels replaced by the median of their
    neighbours, per band; None when there are none. The other rows are context only."""
    n_colour = 3 if len(strip.getbands()) >= 3 else 1
    mask = dust_mask(grey(strip), noise)
    mask[:a] = False
    mask[b:] = False  # flagged margin rows belong to the neighbouring strip
    ys, xs = np.nonzero(mask)
    del mask
    if ys.size == 0:
        return None
    h, w = strip.height, strip.width
    # The same samples as an edge-padded median: clamp the indices instead of padding bands.
    rows = [np.clip(ys + d, 0, h - 1) for d in (-STEP, 0, STEP)]
    cols = [np.clip(xs + d, 0, w - 1) for d in (-STEP, 0, STEP)]
    src = np.asarray(strip)
    out = src[a:b].copy()
    for c in range(n_colour):
        band = src[..., c] if src.ndim == 3 else src
        samples = np.stack([band[r, q] for r in rows for q in cols])
        if out.ndim == 3:
            out[ys - a, xs, c] = np.partition(samples, 4, axis=0)[4]
        else:
            out[ys - a, xs] = np.partition(samples, 4, axis=0)[4]
    return Image.fromarray(out, strip.mode)


@register("dust_scratch", "Remove dust specks and thin scratches, touching only those pixels")
def dust_scratch(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Repair small bright or dark outliers; the same image when no strip holds any."""
    noise = estimate_noise(image)
    return map_strip_rows(
        image, lambda s, a, b: _repair(s, noise, a, b), margin=2 * STEP + 4, rows=DUST_STRIP_ROWS
    )


def _smooth(strip: Image.Image, noise: float) -> Image.Image:
    """Sigma filter: pull each pixel towards its blurred value unless it differs by far more than
    the noise does, which keeps edges and detail while flattening grain."""
    blurred = np.asarray(strip.filter(ImageFilter.GaussianBlur(1.5)), np.int16)
    x = np.asarray(strip, np.int16)
    d = x - blurred
    k = max(1, round(3 * noise))
    weight = np.maximum(k - np.abs(d), 0)
    out = x - (d * weight) // k
    if strip.mode in ("RGBA", "LA"):
        out[..., -1] = x[..., -1]
    return Image.fromarray(out.astype(np.uint8), strip.mode)


@register("denoise", "Reduce grain and scanner noise, only when it is strong")
def denoise(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Edge-preserving smoothing scaled to the measured noise; same image when noise is low."""
    noise = estimate_noise(image)
    if noise < NOISE_THRESHOLD:
        return image
    return map_strips(image, lambda s: _smooth(s, noise), margin=6, rows=NUMPY_STRIP_ROWS)
