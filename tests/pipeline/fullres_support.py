"""Stand-in models and a one-call merge for the full-resolution tests."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from service.pipeline import findings, handoff, transforms
from service.pipeline.ops.merge import merge_detail
from service.pipeline.registry import OpContext
from tests.pipeline.pipeline_photos import age, photo


def astronaut(side: int = 768) -> Image.Image:
    """scikit-image's astronaut (a face, fabric, print) at `side`."""
    return photo("astronaut").resize((side, side), Image.Resampling.LANCZOS)


def aged(clean: Image.Image, seed: int = 3) -> Image.Image:
    """The clean picture as an old print: faded, yellowed, grainy, dusty, scratched."""
    return age(clean, seed=seed)


def perfect(clean: Image.Image, factor: float) -> Image.Image:
    """A model that restores perfectly at the size it is sent: the clean picture, smaller."""
    return perfect_at(clean, _smaller(clean, factor))


def perfect_at(clean: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`perfect`, sent at `size` (bench_fullres uses these stand-ins too)."""
    return clean.convert("RGB").resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def realistic(clean: Image.Image, factor: float) -> Image.Image:
    """Not perfect: its own tone curve, a slight blur, a warm cast, smoothed skin."""
    return realistic_at(clean, _smaller(clean, factor))


def _smaller(clean: Image.Image, factor: float) -> tuple[int, int]:
    return round(clean.width / factor), round(clean.height / factor)


def realistic_at(clean: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`realistic`, sent at `size`."""
    im = perfect_at(clean, size)
    a = np.asarray(im, np.float32) / 255
    a = a ** np.array([0.9, 0.93, 1.0]) * 255 + np.array([6, 2, -5])
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    hsv = np.asarray(im.convert("HSV"), np.float32)
    skin = (hsv[..., 0] < 40) & (hsv[..., 1] > 40) & (hsv[..., 2] > 80)
    mask = Image.fromarray(skin.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(2))
    return Image.composite(im.filter(ImageFilter.GaussianBlur(2.5)), im, mask)


def merged(
    answer: Image.Image, scan: Image.Image, *, fidelity: str | None = None, **params: object
) -> tuple[Image.Image, findings.Findings, list[transforms.Transform]]:
    """Run merge_detail as the chain would after a model step; what it reported and recorded."""
    ctx = OpContext(original_size=scan.size)
    handoff.leave(ctx, scan, "stand-in", fidelity=fidelity)
    with findings.collecting() as found, transforms.recording() as log:
        out = merge_detail(answer, ctx, **params)
    return out, found, log


def arr(im: Image.Image) -> np.ndarray:
    """Float RGB pixels."""
    return np.asarray(im.convert("RGB"), np.float32)


def high_pass(im: Image.Image, sigma: float = 1.5) -> np.ndarray:
    """The luminance minus its blur: the fine detail a resize loses."""
    grey = np.asarray(im.convert("L"), np.float32)
    return grey - np.asarray(im.convert("L").filter(ImageFilter.GaussianBlur(sigma)), np.float32)


def detail(im: Image.Image, clean: Image.Image) -> float:
    """Correlation of the 1.5-px high-pass bands of `im` and `clean`."""
    return float(np.corrcoef(high_pass(im).ravel(), high_pass(clean).ravel())[0, 1])
