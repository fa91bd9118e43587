"""Per-picture scores of the offline damage repair on synthetic damage over clean pictures.

For each picture: removal (1 − error after / error before, inside the damage), SSIM to the
clean picture outside the damage, the detected mask's precision and recall, and how much of
the clean picture alone the detector flags (false alarms).

    .venv/bin/python bench/damage_scores.py
    .venv/bin/python bench/damage_scores.py --seeds 20
    .venv/bin/python bench/damage_scores.py --look ../shared/data/real-old /tmp/look

With `--seeds N`, picture i gets seed i + N instead of i: the same kinds of damage laid
elsewhere, which no threshold was set on (the tests use seed i).

With `--look IN OUT`, every picture in IN is also repaired and written to OUT as one image:
before, the mask in red over it, after — for looking at real damage, which has no truth.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.pipeline import handoff  # noqa: E402
from service.pipeline.damage import detect  # noqa: E402
from service.pipeline.ops.repair import repair_damage  # noqa: E402
from service.pipeline.registry import OpContext  # noqa: E402
from tests.pipeline.synthetic_damage import (  # noqa: E402
    PICTURES,
    damage,
    mask_scores,
    picture,
    removal,
    ssim_outside,
)


def _repair(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """`repair_damage` as a chain runs it, and the mask it left."""
    ctx = OpContext()
    out = repair_damage(image, ctx)
    mask = handoff.damage_mask(ctx)
    return out, mask if mask is not None else Image.new("L", image.size, 0)


def table(offset: int = 0) -> None:
    """Print the per-picture table and the means, picture i damaged with seed i + `offset`."""
    head = ("picture", "removal", "ssim_out", "precision", "recall", "clean_flag%")
    print(f"{head[0]:<10} " + " ".join(f"{h:>11}" for h in head[1:]))
    rows = []
    for seed, name in enumerate(PICTURES):
        clean = picture(name)
        hurt = damage(clean, seed + offset)
        repaired, mask = _repair(hurt.image)
        p, r = mask_scores(hurt.mask, np.asarray(mask))
        flagged = float((np.asarray(detect.detect(clean)) > 0).mean() * 100)
        row = (removal(clean, hurt, repaired), ssim_outside(clean, hurt, repaired), p, r, flagged)
        rows.append(row)
        print(f"{name:<10} " + " ".join(f"{v:>11.4f}" for v in row))
    print(f"{'mean':<10} " + " ".join(f"{v:>11.4f}" for v in np.array(rows).mean(axis=0)))


def look(src: Path, out: Path) -> None:
    """Write before | mask over before | after for every picture in `src`."""
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in src.iterdir() if p.suffix.lower() in (".png", ".jpg", ".tif")):
        image = Image.open(path).convert("RGB")
        after, mask = _repair(image)
        shown = np.asarray(image).copy()
        shown[np.asarray(mask) > 0] = (255, 0, 0)
        strip = np.concatenate([np.asarray(image), shown, np.asarray(after)], axis=1)
        Image.fromarray(strip).save(out / f"{path.stem}.png")
        share = float((np.asarray(mask) > 0).mean() * 100)
        print(f"{path.name}: {share:.2f}% of the picture masked -> {out / path.stem}.png")


def main() -> None:
    """The table (with --seeds N, of damage laid with other seeds); with --look IN OUT, also
    the side-by-sides."""
    args = sys.argv[1:]
    if args[:1] == ["--seeds"] and len(args) == 2:
        table(int(args[1]))
        return
    table()
    if len(args) == 3 and args[0] == "--look":
        look(Path(args[1]), Path(args[2]))


if __name__ == "__main__":
    main()
