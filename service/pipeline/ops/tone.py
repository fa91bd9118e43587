"""Tone and colour: fading (a compressed histogram) and colour casts (yellowing).

Both measure percentiles on a thumbnail and apply one 8-bit lookup table per band with
`Image.point`, which runs in C without any temporary copy; alpha gets an identity table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from service.pipeline.ops._common import apply_luts, colour_array, is_grey, thumbnail
from service.pipeline.registry import OpContext, register

LOW_PCT, HIGH_PCT = 0.5, 99.5  # ignore the few pixels of dust, glare and specular highlights
LEVELS_PCT = (0.2, 99.8)  # for the stretch: clipping a print's whites is worse than a grey hint
FADED_LOW, FADED_HIGH = 12.0, 243.0  # a print whose darks/lights stop short of these has faded
MAX_GAIN = 3.0  # a nearly flat image (fog, a blank wall) must not be blown into noise
CAST_STRENGTH = 0.7  # share of the measured cast that is removed
MAX_CHANNEL_GAIN = 1.35
CAST_SPREAD = 10.0  # grey levels between channels' white or black points before we call it a cast


def _stretch_lut(lo: float, hi: float, new_lo: float = 0.0, new_hi: float = 255.0) -> np.ndarray:
    """Linear map of [lo, hi] onto [new_lo, new_hi]."""
    v = np.arange(256, dtype=np.float64)
    return new_lo + (v - lo) * (new_hi - new_lo) / max(hi - lo, 1.0)


@register("auto_levels", "Restore contrast of a faded print by stretching its tonal range")
def auto_levels(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Map the darkest and lightest tones back to black and white; same image when not faded."""
    values = colour_array(thumbnail(image))
    lo, hi = (float(p) for p in np.percentile(values, LEVELS_PCT))
    # A fade lifts the blacks and dims the whites together; a photo with only one end short
    # (a snow scene, a night shot) is how it was taken.
    if lo <= FADED_LOW or hi >= FADED_HIGH:
        return image
    if hi - lo < 255.0 / MAX_GAIN:
        mid = (hi + lo) / 2
        lo, hi = mid - 127.5 / MAX_GAIN, mid + 127.5 / MAX_GAIN
    # One table for every channel: the stretch must not shift hues; color_balance does that.
    lut = _stretch_lut(lo, hi)
    return apply_luts(image, [lut])


@register("color_balance", "Remove a colour cast such as yellowing; greyscale is left alone")
def color_balance(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Give every channel the same black and white point (a robust white-patch balance)."""
    thumb = thumbnail(image)  # one pass over the full image serves both measurements
    if is_grey(thumb):
        return image
    values = colour_array(thumb).reshape(-1, 3)
    lows = np.percentile(values, LOW_PCT, axis=0)
    highs = np.percentile(values, HIGH_PCT, axis=0)
    if np.ptp(highs) < CAST_SPREAD and np.ptp(lows) < CAST_SPREAD:
        return image
    # Aim at the widest channel, but move each channel only part of the way and cap its gain:
    # a picture that simply has no white in it (an orange cat, a blue sky) is not repainted grey.
    target_lo, target_hi = float(lows.min()), float(highs.max())
    luts = []
    for lo, hi in zip(lows, highs, strict=True):
        new_lo = lo + CAST_STRENGTH * (target_lo - lo)
        new_hi = hi + CAST_STRENGTH * (target_hi - hi)
        new_hi = min(new_hi, new_lo + (hi - lo) * MAX_CHANNEL_GAIN)
        luts.append(_stretch_lut(lo, hi, new_lo, new_hi))
    return apply_luts(image, luts)
