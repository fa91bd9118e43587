"""Real photographs, synthetic ageing and SSIM for the pipeline tests."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "camera")


def photo(name: str) -> Image.Image:
    """One of scikit-image's bundled photographs (RGB, or L for `camera`)."""
    data = pytest.importorskip("skimage.data")
    return Image.fromarray(getattr(data, name)())


def age(clean: Image.Image, seed: int = 0) -> Image.Image:
    """A synthetic aged print: faded, yellowed, grainy, with dust specks and thin scratches."""
    rng = np.random.default_rng(seed)
    a = np.asarray(clean, np.float32)
    grey = a.ndim == 2
    a = 45 + a * 0.62  # fading: lifted blacks, dimmed whites
    if not grey:
        a = a * np.array([1.0, 0.93, 0.72]) + np.array([8, 6, 0])  # yellowed paper and dyes
    grain = rng.normal(0, 6, a.shape[:2])
    a = a + (grain if grey else grain[..., None])
    if not grey:
        a = a + rng.normal(0, 3, a.shape)  # a little colour grain on top of the luminance grain
    h, w = a.shape[:2]
    for _ in range(90):  # dust: mostly light specks (dust on the negative), some dark
        y, x, r = rng.integers(3, h - 3), rng.integers(3, w - 3), int(rng.integers(0, 2))
        a[y - r : y + r + 1, x - r : x + r + 1] = 245 if rng.random() < 0.7 else 25
    for _ in range(3):  # hairline scratches
        y0, x0 = rng.integers(h // 8, 7 * h // 8), rng.integers(0, w // 2)
        for x in range(x0, min(w, x0 + w // 3)):
            a[int(y0 + 6 * np.sin(x / 37)), x] = 235
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), clean.mode)


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Structural similarity of two same-sized images (per channel for colour)."""
    metrics = pytest.importorskip("skimage.metrics")
    x, y = np.asarray(a), np.asarray(b)
    return float(
        metrics.structural_similarity(x, y, channel_axis=2 if x.ndim == 3 else None, data_range=255)
    )
