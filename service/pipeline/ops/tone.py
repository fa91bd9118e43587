"""Tone and colour: fading (a compressed histogram) and colour casts (yellowing).

Both measure percentiles on a thumbnail and apply one 8-bit lookup table per band with
`Image.point`, which runs in C without any temporary copy; alpha gets an identity table.
"""

from __future__ import annotations

import math
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
CAST_SPREAD = 16.0  # grey levels between the channels' white points before we call it a cast
DYE_LOSS = 0.75  # a channel whose white point is below this share of the brightest's lost its dye
TONED_RESIDUAL = 0.12  # chroma not explained by luminance, as a share: below it, a toned print
TONED_NOISE = 3.0  # grey levels of such chroma that are only noise and damage


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
    return _applied(image, ctx, [lut])


def _applied(image: Image.Image, ctx: OpContext, luts: list[np.ndarray]) -> Image.Image:
    """The tables applied, into `image` itself when the runner lets this step own it."""
    in_place = ctx.ownership.may_write(image)
    out = apply_luts(image, luts, in_place=in_place)
    if out is image:
        ctx.ownership.wrote()
    return out


def toned(values: np.ndarray) -> bool:
    """True for a monochrome print toned in one hue (sepia, selenium, a yellowed black-and-white):
    its colour is a function of its brightness alone. A colour photo, cast or not, holds
    different colours at the same brightness."""
    rgb = values.reshape(-1, 3).astype(np.float64)
    grey = rgb.mean(axis=1)
    chroma = rgb - grey[:, None]
    bins = np.clip((grey // 8).astype(np.int64), 0, 31)
    counts = np.maximum(np.bincount(bins, minlength=32), 1)
    residual = 0.0
    for c in range(3):
        means = np.bincount(bins, chroma[:, c], minlength=32) / counts
        residual += float(np.sum((chroma[:, c] - means[bins]) ** 2))
    rms_residual = math.sqrt(residual / len(grey))
    rms = math.sqrt(float(np.mean(np.sum(chroma**2, axis=1))))
    return rms_residual <= max(TONED_NOISE, TONED_RESIDUAL * rms)


def _is_cast(lows: np.ndarray, highs: np.ndarray) -> bool:
    """A colour cast from ageing: the channels' white points apart, on a print whose blacks
    are lifted in every channel (it faded) or one of whose dyes clearly went."""
    if np.ptp(highs) < CAST_SPREAD:
        return False
    return bool(lows.min() > FADED_LOW or highs.min() < DYE_LOSS * highs.max())


@register("color_balance", "Remove a colour cast such as yellowing; greyscale is left alone")
def color_balance(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    """Give every channel the same black and white point (a robust white-patch balance), on a
    faded colour print only: a clean photo's warm light and a sepia print's tone stay."""
    thumb = thumbnail(image)  # one pass over the full image serves both measurements
    if is_grey(thumb):
        return image
    values = colour_array(thumb).reshape(-1, 3)
    lows = np.percentile(values, LOW_PCT, axis=0)
    highs = np.percentile(values, HIGH_PCT, axis=0)
    if not _is_cast(lows, highs) or toned(colour_array(thumbnail(image, 256))):
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
    return _applied(image, ctx, luts)
