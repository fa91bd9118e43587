"""How many made-up folds the crease detector finds, and how many it finds on clean pictures.

A fold is laid alone over each picture of `tests/pipeline/synthetic_damage` with three seeds;
it counts as found when one detected fold's band covers more than half of its changed pixels.
Wrong folds are detected folds that cover no laid one; on clean pictures every fold is wrong.

    .venv/bin/python bench/crease_recall.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "pipeline"))

from clean_photos import CLEAN  # noqa: E402

from service.pipeline.damage import creases, detect, lines  # noqa: E402
from service.pipeline.ops._common import estimate_noise  # noqa: E402
from tests.pipeline.synthetic_damage import PICTURES, damage, picture  # noqa: E402

SEEDS = (11, 23, 37)


def folds_of(image: Image.Image) -> list[np.ndarray]:
    """The folds the detector finds on `image` (end points)."""
    t = detect.tones(image)
    return creases.folds(t.grey, *lines.responses(t.grey, lines.FINE.kernel), estimate_noise(image))


def covers(ends: np.ndarray, truth: np.ndarray) -> bool:
    """True when the band of the fold `ends` covers more than half of `truth`."""
    band = creases.band(truth.shape, [ends], 3)
    return bool(truth.any() and (band & truth).sum() > 0.5 * truth.sum())


def main() -> None:
    found = wrong = total = 0
    rows = []
    for name in PICTURES:
        marks = ""
        for seed in SEEDS:
            hurt = damage(picture(name), PICTURES.index(name) + seed, ("crease",))
            folds = folds_of(hurt.image)
            hit = any(covers(e, hurt.mask) for e in folds)
            found, total = found + hit, total + 1
            wrong += sum(not covers(e, hurt.mask) for e in folds)
            marks += "Y" if hit else "."
        rows.append(f"{name} {marks}")
    on_clean = {name: len(folds_of(picture(name))) for name in PICTURES}
    on_clean.update({f"clean {k}": len(folds_of(make())) for k, make in CLEAN.items()})
    print("  ".join(rows))
    print(f"folds found: {found}/{total}; wrong folds on damaged pictures: {wrong}")
    print(f"folds on {len(on_clean)} clean pictures: {sum(on_clean.values())}", end="")
    print("".join(f", {k} {v}" for k, v in on_clean.items() if v))


if __name__ == "__main__":
    main()
