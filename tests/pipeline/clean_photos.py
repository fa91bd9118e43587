"""Clean pictures of many kinds, for "only what is needed": photographs from scikit-image, and
the same photographs as a low-key, a high-key, a sepia-toned and a black-and-white print."""

from __future__ import annotations

import numpy as np
from PIL import Image
from pipeline_photos import photo

SEPIA = np.array([1.0, 0.86, 0.66])  # a toned print's warm browns: its colour, not a cast


def low_key(name: str = "coffee") -> Image.Image:
    """A dark, low-key photo: shadows most of the frame, a few lights."""
    a = np.asarray(photo(name).convert("RGB"), np.float32) / 255
    return Image.fromarray(np.rint(255 * a**2.4).astype(np.uint8))


def high_key(name: str = "chelsea") -> Image.Image:
    """A bright, high-key photo: light tones throughout, its blacks never deep."""
    a = np.asarray(photo(name).convert("RGB"), np.float32) / 255
    return Image.fromarray(np.rint(255 * a**0.4).astype(np.uint8))


def sepia(name: str = "camera") -> Image.Image:
    """A clean sepia-toned print: a full tonal range, every tone a warm brown."""
    grey = np.asarray(photo(name).convert("L"), np.float32)
    a = grey[..., None] * SEPIA + np.array([0.0, 8.0, 14.0]) * (1 - grey[..., None] / 255)
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


def black_and_white(name: str = "astronaut") -> Image.Image:
    """A black-and-white photo stored as RGB, as most scanners save one."""
    return photo(name).convert("L").convert("RGB")


CLEAN = {
    "astronaut": lambda: photo("astronaut"),
    "coffee": lambda: photo("coffee"),
    "chelsea": lambda: photo("chelsea"),
    "camera": lambda: photo("camera"),
    "rocket": lambda: photo("rocket"),
    "brick": lambda: photo("brick"),
    "low-key": low_key,
    "high-key": high_key,
    "sepia": sepia,
    "black-and-white": black_and_white,
}
