"""How well the clip check's first-frame similarity separates "the photo" from "another picture".

Pictures: scikit-image's bundled sample photos, and a faded sepia copy of each (old prints are
low-contrast). For each picture a real H.264 clip is made (tests/clips.py) from it as is, and
from copies degraded as a model's first frame may be (brighter, less contrast, blurred and
shifted by a VAE-like amount, then harder); its first frame is scored against its own picture
and against every unrelated one. The threshold (`ClipRules.min_similarity`) must sit above the
unrelated maximum and below the self minimum of the mild degradations.

    .venv/bin/python bench/bench_clip_similarity.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.pipeline.clip import ClipRules, first_frame, similarity
from tests.clips import make_mp4

NAMES = [
    *("astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket", "horse", "page"),
    *("retina", "brick", "grass", "clock", "text", "cell", "hubble_deep_field"),
]
DEGRADATIONS = {"none": (0, 0.0), "vae-like": (2, 0.8), "harder": (4, 1.5), "harsh": (8, 2.0)}


def pictures() -> dict[str, Image.Image]:
    out = {}
    for name in NAMES:
        array = getattr(data, name)()
        if array.dtype != np.uint8:
            array = (array * 255 if array.max() <= 1 else array).astype(np.uint8)
        im = Image.fromarray(array).convert("RGB")
        grey = np.asarray(im.convert("L"), dtype=np.float64) * 0.35 + 110
        sepia = np.stack([grey * 1.05, grey, grey * 0.85], axis=-1).clip(0, 255)
        out[name] = im
        out[name + "~faded"] = Image.fromarray(sepia.astype(np.uint8))
    return out


def degrade(im: Image.Image, shift: int, blur: float) -> Image.Image:
    if not shift:
        return ImageEnhance.Brightness(im).enhance(1.05)
    out = ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.1)).enhance(0.9)
    out = out.filter(ImageFilter.GaussianBlur(blur))
    w = im.size[0]
    matrix = (1, 0, shift * w / 256, 0, 1, shift * w / 512)
    return out.transform(im.size, Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR)


def main() -> None:
    pics = pictures()
    base = {k: k.split("~")[0] for k in pics}
    threshold = ClipRules().min_similarity
    print(f"{len(pics)} pictures, threshold {threshold}")
    for label, (shift, blur) in DEGRADATIONS.items():
        frames = {
            k: first_frame(make_mp4(degrade(v, shift, blur), width=256)) for k, v in pics.items()
        }
        own = sorted((similarity(f, pics[k]), k) for k, f in frames.items())
        refused = sum(s < threshold for s, _ in own)
        line = f"{label:9s} self: min {own[0][0]:.2f} ({own[0][1]}), refused {refused}"
        if label == "none":
            cross = [
                similarity(f, p)
                for k, f in frames.items()
                for k2, p in pics.items()
                if base[k] != base[k2]
            ]
            accepted = sum(c >= threshold for c in cross)
            line += f"; unrelated ({len(cross)} pairs): max {max(cross):.2f}, accepted {accepted}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
