"""How well `damage.fill` removes damage laid over clean pictures, against OpenCV's two
inpainting methods alone, and how well `damage.tears` finds torn corners and edges.

Removal = 1 − (mean |error| to the clean picture inside the mask, after) / (the damaged
input's error there). Grain = the high-pass spread (σ 1.5 px) deep inside a large hole over
that of the clean picture round it (1 = the grain goes on; a smooth patch is near 0).

    .venv/bin/python bench/fill_quality.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.pipeline.damage import fill, tears  # noqa: E402
from tests.pipeline.damage import made_damage as md  # noqa: E402

PICTURES = ("astronaut", "chelsea", "brick", "coffee", "camera", "grass")
Fill = Callable[[Image.Image, np.ndarray], Image.Image]


def picture(name: str) -> Image.Image:
    from skimage import data  # bench dependency, like the tests

    return Image.fromarray(getattr(data, name)())


def opencv(flag: int) -> Fill:
    def run(damaged: Image.Image, m: np.ndarray) -> Image.Image:
        out = cv2.inpaint(np.asarray(damaged), m.astype(np.uint8), 3, flag)
        return Image.fromarray(out, damaged.mode)

    return run


def ours(damaged: Image.Image, m: np.ndarray) -> Image.Image:
    return fill.fill(damaged, Image.fromarray(m.astype(np.uint8) * 255))


METHODS: dict[str, Fill] = {
    "fill": ours,
    "telea": opencv(cv2.INPAINT_TELEA),
    "ns": opencv(cv2.INPAINT_NS),
}


def damage(kind: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """The masks the numbers are for: lines (cracks and scratches) or holes."""
    if kind == "lines":
        return md.crack(rng, shape, 3) | md.crack(rng, shape, 5) | md.scratch(rng, shape, 2)
    if kind == "corner":
        return md.torn_corner(rng, shape, 0.25, int(rng.integers(0, 4)))
    if kind == "edge":
        return md.torn_edge(rng, shape)
    return md.hole(rng, shape, 30)


def removal(clean: Image.Image, damaged: Image.Image, fixed: Image.Image, m: np.ndarray) -> float:
    c = np.asarray(clean, np.float64)
    before = np.abs(np.asarray(damaged, np.float64) - c)[m].mean()
    return float(1 - np.abs(np.asarray(fixed, np.float64) - c)[m].mean() / before)


def grain(clean: Image.Image, fixed: Image.Image, m: np.ndarray) -> float:
    inner = cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    ring = cv2.dilate(m.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool) & ~m

    def spread(a: Image.Image, where: np.ndarray) -> float:
        f = np.asarray(a, np.float32)
        return float((f - cv2.GaussianBlur(f, (0, 0), 1.5).reshape(f.shape))[where].std())

    return spread(fixed, inner) / max(spread(clean, ring), 1e-6) if inner.any() else float("nan")


def scores(kind: str) -> None:
    print(f"\n{kind}: removal per picture (two damage seeds each), grain in []")
    print(f"{'':10s}" + "".join(f"{name:>14s}" for name in METHODS))
    totals: dict[str, list[float]] = {name: [] for name in METHODS}
    for name in PICTURES:
        clean = picture(name)
        cells = {method: [] for method in METHODS}
        grains = {method: [] for method in METHODS}
        for seed in (1, 2):
            rng = np.random.default_rng(seed)
            m = damage(kind, rng, (clean.height, clean.width))
            damaged = md.lay(clean, m, rng)
            for method, run in METHODS.items():
                fixed = run(damaged, m)
                cells[method].append(removal(clean, damaged, fixed, m))
                grains[method].append(grain(clean, fixed, m))
        row = f"{name:10s}"
        for method in METHODS:
            totals[method] += cells[method]
            g = "" if kind == "lines" else f" [{np.nanmean(grains[method]):.2f}]"
            row += f"{np.mean(cells[method]):>{14 - len(g)}.3f}{g}"
        print(row)
    print(f"{'mean':10s}" + "".join(f"{np.mean(v):>14.3f}" for v in totals.values()))
    print(f"{'min':10s}" + "".join(f"{np.min(v):>14.3f}" for v in totals.values()))


def tear_scores() -> None:
    print("\ntears: recall / precision of the mask (torn corner, torn edge), false alarms")
    for name in PICTURES:
        clean = picture(name)
        row = f"{name:10s}"
        for kind in ("corner", "edge"):
            rng = np.random.default_rng(3)
            truth = damage(kind, rng, (clean.height, clean.width))
            found = tears.tear_mask(md.lay(clean, truth, rng))
            hit = 0 if found is None else int((found & truth).sum())
            size = 1 if found is None else max(1, int(found.sum()))
            row += f"  {kind} {hit / truth.sum():.2f} / {hit / size:.2f}"
        alarm = tears.tear_mask(clean)
        print(row + f"  clean: {'FALSE ALARM' if alarm is not None else 'none'}")


def main() -> None:
    for kind in ("lines", "corner", "edge", "hole"):
        scores(kind)
    tear_scores()


if __name__ == "__main__":
    main()
