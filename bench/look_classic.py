"""Before/after sheets of the `classic` chain on real scans, for looking (not a test).

For each scan: one overview sheet (before | after | the damage mask over the before), and 1:1
crops around the largest repaired regions and around each face OpenCV's bundled cascade finds,
so the places a crack was and the faces can be judged at full size. With `--readme`, also the
README's picture (`docs/restoration.jpg`): before and after of one scan, side by side.

    .venv/bin/python bench/look_classic.py ../shared/data/real-old            # → bench/out/classic/
    .venv/bin/python bench/look_classic.py ../shared/data/real-old --readme scratched-a
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.config.catalog import load_catalog  # noqa: E402
from service.pipeline import handoff, transforms  # noqa: E402
from service.pipeline.faces import find as find_faces  # noqa: E402
from service.pipeline.registry import OpContext  # noqa: E402
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext, StepRecord  # noqa: E402

OUT = ROOT / "bench" / "out" / "classic"
CROP = 256
OVERVIEW_SIDE = 640
LABEL = 18


def run_classic(
    scan: Image.Image,
) -> tuple[Image.Image, Image.Image, Image.Image | None, list[StepRecord]]:
    """The chain's result, the scan in the result's frame, the mask (if any), the steps run."""
    chain = load_catalog(ROOT / "service" / "config" / "models.toml").chain("classic")
    runner = ChainRunner({"local": LocalExecutor()})
    ctx = RunContext(op_context=OpContext(original_size=scan.size))
    with transforms.recording() as log:
        result = asyncio.run(runner.run(scan.copy(), chain, ctx))
    mask = handoff.damage_mask(ctx.op_context)
    return result.image, transforms.replay(scan, log), mask, result.steps


def labelled(panels: list[tuple[str, Image.Image]]) -> Image.Image:
    """Panels side by side with a label above each."""
    w = sum(p.width for _, p in panels) + 8 * (len(panels) - 1)
    h = max(p.height for _, p in panels) + LABEL
    out = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(out)
    x = 0
    for label, p in panels:
        out.paste(p.convert("RGB"), (x, LABEL))
        draw.text((x + 4, 3), label, fill="black")
        x += p.width + 8
    return out


def overlay(before: Image.Image, mask: Image.Image | None) -> Image.Image:
    """The before image with the mask in semi-transparent red."""
    rgb = before.convert("RGB")
    if mask is None:
        return rgb
    red = Image.new("RGB", rgb.size, (255, 0, 0))
    alpha = mask.resize(rgb.size).point(lambda v: v * 6 // 10)
    return Image.composite(red, rgb, alpha)


def regions(mask: Image.Image | None, count: int = 4) -> list[tuple[int, int]]:
    """Centres of the largest connected regions of the mask."""
    if mask is None:
        return []
    m = (np.asarray(mask) >= 128).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(m, connectivity=8)
    order = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])[:count]
    return [(int(centroids[i][0]), int(centroids[i][1])) for i in order]


def crop_at(image: Image.Image, centre: tuple[int, int]) -> Image.Image:
    x = min(max(0, centre[0] - CROP // 2), max(0, image.width - CROP))
    y = min(max(0, centre[1] - CROP // 2), max(0, image.height - CROP))
    return image.crop((x, y, x + CROP, y + CROP))


def look(path: Path) -> None:
    scan = Image.open(path)
    scan.load()
    started = time.perf_counter()
    after, before, mask, steps = run_classic(scan)
    took = time.perf_counter() - started
    done = [s.name for s in steps if s.status == "done"]
    share = 0.0 if mask is None else float(np.mean(np.asarray(mask) >= 128)) * 100
    print(
        f"{path.name}: {scan.size} → {after.size}, {took:.1f} s, steps done {done}, "
        f"mask {share:.2f} %"
    )
    scale = OVERVIEW_SIDE / max(before.size)
    small = (max(1, round(before.width * scale)), max(1, round(before.height * scale)))
    sheet = labelled(
        [
            ("before", before.resize(small)),
            ("after", after.resize(small)),
            ("mask", overlay(before, mask).resize(small)),
        ]
    )
    sheet.save(OUT / f"{path.stem}_overview.png")
    grey = np.asarray(before.convert("L"))
    centres = regions(mask) + [
        (round((x + w / 2) * before.width), round((y + h / 2) * before.height))
        for x, y, w, h in find_faces(grey)[:3]
    ]
    for i, c in enumerate(centres):
        crops = [("before 1:1", crop_at(before, c)), ("after 1:1", crop_at(after, c))]
        if mask is not None:
            crops.append(("mask", crop_at(overlay(before, mask), c)))
        labelled(crops).save(OUT / f"{path.stem}_crop{i}.png")


def readme_picture(path: Path) -> None:
    """docs/restoration.jpg: before and after of one scan, each at most 480 px wide."""
    scan = Image.open(path)
    scan.load()
    after, before, _, _ = run_classic(scan)
    scale = min(1.0, 480 / before.width)
    size = (round(before.width * scale), round(before.height * scale))
    pic = labelled(
        [("before", before.resize(size)), ("after (classic, offline)", after.resize(size))]
    )
    target = ROOT / "docs" / "restoration.jpg"
    pic.save(target, quality=88, optimize=True)
    print(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--readme", metavar="STEM", help="also write docs/restoration.jpg")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted(args.folder.glob("*.png")):
        look(path)
    if args.readme:
        readme_picture(args.folder / f"{args.readme}.png")


if __name__ == "__main__":
    main()
