"""Filling a damage mask from its surroundings (OpenCV inpainting)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

INPAINT_RADIUS = 3


def fill(image: Image.Image, mask: Image.Image) -> Image.Image:
    """`image` with the pixels under `mask` ('L', 255 = damaged) rebuilt from around them; the
    very same object when the mask is empty."""
    m = np.asarray(mask.convert("L"))
    if not m.any():
        return image
    arr = np.asarray(image)
    out = cv2.inpaint(
        np.ascontiguousarray(arr), (m >= 128).astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA
    )
    return Image.fromarray(out, image.mode)
