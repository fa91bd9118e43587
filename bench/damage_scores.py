"""Per-picture scores of the offline damage repair on synthetic damage over clean pictures.

For each picture: removal (1 − error after / error before, inside the damage), SSIM to the
clean picture outside the damage, the detected mask's precision and recall, and how much of
the clean picture alone the detector flags (false alarms).

    .venv/bin/python bench/damage_scores.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.pipeline.damage import detect, fill  # noqa: E402
from tests.pipeline.synthetic_damage import (  # noqa: E402
    PICTURES,
    damage,
    mask_scores,
    picture,
    removal,
    ssim_outside,
)


def main() -> None:
    """Print the table and the means."""
    head = ("picture", "removal", "ssim_out", "precision", "recall", "clean_flag%")
    print(f"{head[0]:<10} " + " ".join(f"{h:>11}" for h in head[1:]))
    rows = []
    for seed, name in enumerate(PICTURES):
        clean = picture(name)
        hurt = damage(clean, seed)
        mask = detect.detect(hurt.image)
        repaired = fill.fill(hurt.image, mask)
        p, r = mask_scores(hurt.mask, np.asarray(mask))
        flagged = float((np.asarray(detect.detect(clean)) > 0).mean() * 100)
        row = (removal(clean, hurt, repaired), ssim_outside(clean, hurt, repaired), p, r, flagged)
        rows.append(row)
        print(f"{name:<10} " + " ".join(f"{v:>11.4f}" for v in row))
    print(f"{'mean':<10} " + " ".join(f"{v:>11.4f}" for v in np.array(rows).mean(axis=0)))


if __name__ == "__main__":
    main()
