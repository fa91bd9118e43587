"""The cost of `damage.fill` on a 600-dpi-sized scan (6700×6700, 45 MP) with a realistic mask
(branching cracks, scratches and a torn corner), against Pillow's decode + encode of the same
JPEG, measured in the same run.

Each mode runs in its own subprocess, REPEATS times taking turns (the fastest run counts: the
machine may be shared), so its peak RSS (VmHWM) is its own; the peak of a
subprocess that only imports is subtracted as the baseline (as bench_classic.py does). Modes:
`floor` (Pillow decode + encode), `fill` (decode, fill into a copy, encode) and `in-place`
(decode, fill into the decoded image, encode: how the chain step can run when it owns the scan).

    .venv/bin/python bench/fill_cost.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _peak import run_child
from PIL import Image

SIDE = 6700
ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
MODES = ("baseline", "floor", "fill", "in-place")

CHILD = r"""
import io, json, sys, time
from pathlib import Path
from PIL import Image
from service.pipeline import imageio
from service.pipeline.damage import fill
import numpy, cv2  # noqa: F401 - same imports in every mode, so the baseline matches

mode, path, mask_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
fill_s = 0.0
if mode != "baseline":
    im = Image.open(path)
    im.load()
    if mode in ("fill", "in-place"):
        mask = Image.open(mask_path)
        mask.load()
        t1 = time.perf_counter()
        out = fill.fill(im, mask, in_place=mode == "in-place")
        fill_s = time.perf_counter() - t1
        del mask
        if out is not im:
            del im
        im = out
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
print(json.dumps({"seconds": time.perf_counter() - t0, "fill": fill_s, "peak_kib": hwm_kib()}))
"""


def make_scan(tmp: Path) -> tuple[Path, Path, int]:
    """A grainy scan-like JPEG with laid-on damage, and its damage mask (PNG)."""
    sys.path.insert(0, str(ROOT))
    from skimage import data  # bench dependency, like the tests

    from tests.pipeline.damage import made_damage as md

    rng = np.random.default_rng(0)
    small = Image.fromarray(data.astronaut()).resize((SIDE // 8, SIDE // 8))
    img = small.resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    a = np.asarray(img).copy()
    del img
    for y0 in range(0, SIDE, 512):  # grain, strip by strip so the generator stays small
        part = a[y0 : y0 + 512].astype(np.int16)
        part += rng.normal(0, 6, part.shape[:2])[..., None].astype(np.int16)
        a[y0 : y0 + 512] = np.clip(part, 0, 255).astype(np.uint8)
    shape = (SIDE, SIDE)
    m = np.zeros(shape, bool)
    for _ in range(6):
        m |= md.crack(rng, shape, 6)
    for _ in range(4):
        m |= md.scratch(rng, shape, 3)
    m |= md.torn_corner(rng, shape, 0.15, 2)
    for _ in range(30):  # dust and small missing flecks
        m |= md.hole(rng, shape, float(rng.uniform(4, 14)))
    a[m] = (242, 240, 230)
    scan, mask = tmp / "scan.jpg", tmp / "mask.png"
    Image.fromarray(a).save(scan, "JPEG", quality=92)
    Image.fromarray(m.astype(np.uint8) * 255).save(mask)
    return scan, mask, int(m.sum())


def run(mode: str, scan: Path, mask: Path) -> dict[str, float]:
    return run_child(CHILD, mode, scan, mask)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        scan, mask, damaged = make_scan(Path(tmp))
        decoded = SIDE * SIDE * 3
        print(
            f"scan: {SIDE}×{SIDE} JPEG, {decoded / 1e6:.0f} MB decoded, "
            f"{100 * damaged / SIDE**2:.2f} % damaged (made in {time.perf_counter() - t0:.0f} s)"
        )
        runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for _ in range(REPEATS):
            for mode in MODES:
                runs[mode].append(run(mode, scan, mask))
        best = {mode: min(r, key=lambda x: x["seconds"]) for mode, r in runs.items()}
        base, floor = best["baseline"], best["floor"]
        results = {mode: best[mode] for mode in ("fill", "in-place")}
    base_b = base["peak_kib"] * 1024
    floor_mem = floor["peak_kib"] * 1024 - base_b
    print(
        f"floor (Pillow decode + encode): {floor['seconds']:.2f} s, peak +{floor_mem / 1e6:.0f} MB"
    )
    for mode, r in results.items():
        mem = r["peak_kib"] * 1024 - base_b
        print(
            f"{mode:9s} decode + fill + encode: {r['seconds']:.2f} s (fill {r['fill']:.2f} s), "
            f"peak +{mem / 1e6:.0f} MB; time {r['seconds'] / floor['seconds']:.2f}× the floor, "
            f"fill alone {r['fill'] / floor['seconds']:.2f}×; peak {mem / decoded:.2f}× the "
            f"decoded image (floor {floor_mem / decoded:.2f}×)"
        )


if __name__ == "__main__":
    main()
