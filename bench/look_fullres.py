"""Before/after crops at 1:1 of merge_detail on real scans, for looking (not a test).

The stand-in model answer is the scan reduced `factor` times and run through the `classic`
chain's repair steps (a model that repairs a little and sees little). Each sheet shows, left to
right: the scan, the answer enlarged with Lanczos (what match_size did), the merge.

    .venv/bin/python bench/look_fullres.py ../shared/data/real-old [factor]   # → bench/out/
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.config.catalog import Chain, load_catalog  # noqa: E402
from service.pipeline.registry import OpContext  # noqa: E402
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext  # noqa: E402
from tests.pipeline.fullres_support import merged  # noqa: E402

OUT = ROOT / "bench" / "out"
CROP = 260
FRAMING = ("auto_orient", "remove_border", "deskew")


def stand_in(scan: Image.Image, factor: float) -> Image.Image:
    small = scan.convert("RGB").resize(
        (round(scan.width / factor), round(scan.height / factor)), Image.Resampling.LANCZOS
    )
    classic = load_catalog(ROOT / "service" / "config" / "models.toml").chain("classic")
    # Without its framing steps: a crop would be a re-framed answer (which the merge refuses).
    steps = tuple(s for s in classic.steps if s.name not in FRAMING)
    chain = Chain(classic.name, classic.title, classic.description, steps)
    runner = ChainRunner({"local": LocalExecutor()})
    ctx = RunContext(op_context=OpContext(original_size=small.size))
    return asyncio.run(runner.run(small, chain, ctx)).image


def sheet(name: str, panels: list[Image.Image], box: tuple[int, int, int, int]) -> Path:
    crops = [p.convert("RGB").crop(box) for p in panels]
    out = Image.new("RGB", (len(crops) * (CROP + 8), CROP + 18), "white")
    draw = ImageDraw.Draw(out)
    for i, (c, label) in enumerate(zip(crops, ("scan", "resize", "merge"), strict=True)):
        out.paste(c, (i * (CROP + 8), 18))
        draw.text((i * (CROP + 8) + 4, 3), label, fill="black")
    path = OUT / f"look_{name}_{box[0]}_{box[1]}.png"
    out.save(path)
    return path


def main() -> None:
    folder = Path(sys.argv[1])
    factor = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*.png")):
        scan = Image.open(path)
        scan.load()
        scan = scan.convert("RGB")
        answer = stand_in(scan, factor)
        result, found, _ = merged(answer, scan)
        resized = answer.resize(scan.size, Image.Resampling.LANCZOS)
        w, h = scan.size
        boxes = [((w - CROP) // 2, (h - CROP) // 3), ((w - CROP) // 4, (h - CROP) * 2 // 3)]
        for x, y in boxes:
            x, y = max(0, x), max(0, y)
            print(sheet(path.stem, [scan, resized, result], (x, y, x + CROP, y + CROP)))
        drift = found.measurements.get("drift", {})
        print(
            f"{path.name}: drift {drift.get('kind')} match {drift.get('match')}, repaired "
            f"{found.measurements.get('repaired_pct')} %, faces {found.measurements.get('faces')}, "
            f"review {found.review}"
        )


if __name__ == "__main__":
    main()
