"""Rotation with a crop in one resampling pass, done strip by strip on the strip workers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pipeline_photos import photo

from service.pipeline import resample


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA"])
def test_rotate_crop_in_strips_matches_one_pillow_transform(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resample, "STRIP_ROWS", 37)  # many strips, the last one short
    im = photo("astronaut").convert(mode)
    out = resample.rotate_crop(im, 3.0)
    w, h = resample.inscribed_size(*im.size, 3.0)
    left, top = (im.width - w) / 2 + 1, (im.height - h) / 2 + 1
    a = -np.radians(3.0)
    ca, sa = float(np.cos(a)), float(np.sin(a))
    dx, dy = left - im.width / 2, top - im.height / 2
    data = (ca, sa, ca * dx + sa * dy + im.width / 2, -sa, ca, -sa * dx + ca * dy + im.height / 2)
    whole = im.transform(out.size, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)
    assert out.mode == mode
    assert np.array_equal(np.asarray(out), np.asarray(whole))
