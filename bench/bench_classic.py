"""Benchmark `classic` on a 600-dpi-sized (45-megapixel) damaged scan, as JPEG and as TIFF (LZW,
8-bit RGB), against Pillow alone, measured in the same run.

Floor: Pillow decodes and re-encodes the file in its own format. Classic: imageio.decode, the
chain through the runner, imageio.encode. Each runs in its own subprocess so its peak RSS
(VmHWM) is its own; the peak of a subprocess that only imports is subtracted as the baseline.
Per-step times are printed, so a new step's cost shows.

    .venv/bin/python bench/bench_classic.py [jpeg|tiff ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _peak import run_child
from PIL import Image, ImageDraw, ImageFilter

SIDE = 6700

CHILD = r"""
import asyncio, io, json, sys, time
from pathlib import Path
from PIL import Image
from service.config.catalog import load_catalog
from service.pipeline import imageio
from service.pipeline.registry import OpContext
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext
import service.pipeline.ops  # noqa: F401 - same imports in every mode, so the baseline matches

# Peak per stage: VmHWM is read, then reset (clear_refs 5), at each stage's end; the run's
# peak is the largest of them.
peaks = {}
def stage(name):
    peaks[name] = max(peaks.get(name, 0), hwm_kib())
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass

def peak_kib():
    return max([hwm_kib(), *peaks.values()])

current = []
async def on_progress(records):
    running = [r.name for r in records if r.status == "running"]
    if running:
        stage("runner")
        current[:] = running
    elif current:
        stage(current.pop())

mode, path = sys.argv[1], Path(sys.argv[2])
t0 = time.perf_counter()
steps = []
if mode == "floor":
    im = Image.open(path)
    im.load()
    buf = io.BytesIO()
    if im.format == "TIFF":
        im.save(buf, "TIFF", compression=im.info.get("compression", "tiff_lzw"))
    else:
        im.save(buf, "JPEG", quality=92)
elif mode == "classic":
    chain = load_catalog(Path("service/config/models.toml")).chain("classic")
    d = imageio.decode(path, max_pixels=150_000_000)
    stage("decode")
    runner = ChainRunner({"local": LocalExecutor()})
    ctx = RunContext(op_context=OpContext(original_size=d.size))
    # Hand the pixels to the runner and keep no reference here, as a worker should: each step's
    # input is then freed as soon as the next one has its output.
    image, d.image = d.image, Image.new("L", (1, 1))
    coro = runner.run(image, chain, ctx, on_progress=on_progress)
    del image
    result = asyncio.run(coro)
    data = imageio.encode(result.image, d, provenance={"chain": "classic"})
    stage("encode")
    steps = [(s.name, s.status, round(s.duration, 2)) for s in result.steps]
print(json.dumps({
    "seconds": time.perf_counter() - t0, "peak_kib": peak_kib(), "steps": steps, "peaks": peaks
}))
"""


def make_scan(path: Path) -> int:
    """A scan-like JPEG and TIFF: a faded, yellowed, grainy, dusty, cracked and scratched
    print, tilted 2° on a white lid."""
    rng = np.random.default_rng(0)
    inner = SIDE - 400
    small = np.asarray(Image.open(_photo()).convert("RGB").resize((inner // 8, inner // 8)))
    img = Image.fromarray(small).resize((inner, inner), Image.Resampling.BICUBIC)
    img = img.filter(ImageFilter.GaussianBlur(1))
    lut = [int(45 + 0.62 * v * f) for f in (1.0, 0.93, 0.72) for v in range(256)]
    img = img.point(lut)
    a = np.asarray(img).copy()
    for y0 in range(0, inner, 512):  # grain, strip by strip so the generator stays small
        a[y0 : y0 + 512] = np.clip(
            a[y0 : y0 + 512].astype(np.int16)
            + rng.normal(0, 6, a[y0 : y0 + 512].shape[:2])[..., None].astype(np.int16),
            0,
            255,
        ).astype(np.uint8)
    for _ in range(400):
        y, x = int(rng.integers(5, inner - 5)), int(rng.integers(5, inner - 5))
        a[y : y + 3, x : x + 3] = 245
    img = Image.fromarray(a)
    _damage(img, rng)
    img = img.rotate(2.0, Image.Resampling.BICUBIC, expand=True, fillcolor=(246, 246, 242))
    scan = Image.new("RGB", (SIDE, SIDE), (246, 246, 242))
    scan.paste(img.crop((0, 0, min(img.width, SIDE - 120), min(img.height, SIDE - 120))), (60, 60))
    scan.save(path, "JPEG", quality=92)
    scan.save(path.with_suffix(".tif"), "TIFF", compression="tiff_lzw")
    return scan.width * scan.height * 3


def _damage(img: Image.Image, rng: np.random.Generator) -> None:
    """Branching cracks (paper-white), long thin scratches and dark specks, drawn in place."""
    w, h = img.size
    draw = ImageDraw.Draw(img)
    for _ in range(6):  # cracks: a wandering line with a branch or two
        x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        points = [(x, y)]
        for _ in range(40):
            x += float(rng.normal(0, 25))
            y += float(rng.uniform(20, 60))
            points.append((x, y))
            if rng.random() < 0.05:
                bx, by = x + float(rng.normal(0, 200)), y + float(rng.uniform(100, 300))
                draw.line([(x, y), (bx, by)], fill=(236, 232, 222), width=4)
        draw.line(points, fill=(236, 232, 222), width=int(rng.integers(3, 9)))
    for _ in range(10):  # long hairline scratches
        y0 = float(rng.uniform(0, h))
        draw.line([(0, y0), (w, y0 + float(rng.normal(0, 300)))], fill=(225, 225, 220), width=2)
    for _ in range(300):  # dark specks
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(2, 7))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(30, 28, 25))


def _photo() -> Path:
    from skimage import data  # bench dependency, like the tests

    out = Path(tempfile.gettempdir()) / "bench-astronaut.png"
    Image.fromarray(data.astronaut()).save(out)
    return out


def report(kind: str, path: Path, decoded_bytes: int) -> None:
    """Floor and classic on one file, and their ratios."""
    base = run_child(CHILD, "baseline", path)
    floor = run_child(CHILD, "floor", path)
    classic = run_child(CHILD, "classic", path)
    base_mib = base["peak_kib"] * 1024
    floor_mem = floor["peak_kib"] * 1024 - base_mib
    classic_mem = classic["peak_kib"] * 1024 - base_mib
    print(f"{kind}: {path.stat().st_size / 1e6:.1f} MB on disk")
    print(
        f"  floor   (Pillow decode + encode): {floor['seconds']:.2f} s, "
        f"peak +{floor_mem / 1e6:.0f} MB"
    )
    print(
        f"  classic (decode + chain + encode): {classic['seconds']:.2f} s, "
        f"peak +{classic_mem / 1e6:.0f} MB"
    )
    peaks = classic["peaks"]

    def peak(name: str) -> str:
        kib = peaks.get(name)
        return "" if kib is None else f"  peak {(kib * 1024 - base_mib) / decoded_bytes:.2f}×"

    print(f"      {'decode':23s}{peak('decode')}")
    for name, status, seconds in classic["steps"]:
        print(f"      {name:14s} {status:8s} {seconds:6.2f} s{peak(name)}")
    print(f"      {'encode':23s}{peak('encode')}")
    time_ratio = classic["seconds"] / floor["seconds"]
    mem_ratio = classic_mem / decoded_bytes
    print(f"  time ratio classic/floor: {time_ratio:.2f}× (goal ≤ 6×)")
    print(
        f"  peak memory / decoded image: {mem_ratio:.2f}× (goal ≤ 3×); "
        f"floor {floor_mem / decoded_bytes:.2f}×"
    )


def main() -> None:
    kinds = sys.argv[1:] or ["jpeg", "tiff"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.jpg"
        t0 = time.perf_counter()
        decoded_bytes = make_scan(path)
        print(
            f"scan: {SIDE}×{SIDE}, {decoded_bytes / 1e6:.0f} MB decoded, damaged "
            f"(made in {time.perf_counter() - t0:.1f} s)"
        )
        for kind in kinds:
            report(
                kind.upper(), path if kind == "jpeg" else path.with_suffix(".tif"), decoded_bytes
            )


if __name__ == "__main__":
    main()
