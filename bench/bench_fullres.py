"""Benchmark `merge_detail` against the plain Lanczos resize it replaces, measured in one run.

Quality: clean pictures (scikit-image's photographs, a page of fine text, brick and grass
textures) are aged with seeded, known damage (fading, yellowing, stains, grain, dust, hairline
scratches, a crack, JPEG). A stand-in model "restores perfectly at the size it is sent": it
answers with the clean picture at that size (downscale factors 4 and 6). Both the resize and
the merge are scored against the clean picture: SSIM, fine detail (correlation of the 1.5-px
high-pass band with the clean picture's) and the mean error inside the damage. A second table
uses a realistic stand-in (another tone curve, a slight blur, a colour shift, smoothed skin).

Cost: on a 600-dpi-sized scan (6,700 × 6,700) the merge is timed against Pillow's decode +
encode of the same JPEG, each in its own subprocess (the fastest of five runs each, the runs
taking turns), peak RSS (VmHWM) minus an import-only baseline, as bench_classic.py does. The
merge is measured as after a model step (only the op context holds the scan, so the result may
take its memory), and once more with the scan held elsewhere too.

    .venv/bin/python bench/bench_fullres.py            # quality tables and cost
    .venv/bin/python bench/bench_fullres.py quality    # only the tables
    .venv/bin/python bench/bench_fullres.py cost       # only the 600-dpi cost
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.pipeline import findings, handoff  # noqa: E402
from service.pipeline.ops.merge import merge_detail  # noqa: E402
from service.pipeline.registry import OpContext  # noqa: E402

FACTORS = (4, 6)
REPEATS = 5
GRAIN: dict[str, float] = {}
SIDE = 6700


# ---------------------------------------------------------------------------- clean pictures
def fine_text(size: tuple[int, int] = (900, 640)) -> Image.Image:
    """A page of small print: what a resize blurs first."""
    im = Image.new("L", size, 238)
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=11)
    rng = np.random.default_rng(5)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs", "family"]
    words += ["photo", "1953", "grandma", "garden"]
    for y in range(12, size[1] - 14, 15):
        line = " ".join(rng.choice(words, 14))
        draw.text((14, y), line, fill=25, font=font)
    return im


def clean_pictures() -> dict[str, Image.Image]:
    from skimage import data

    pics = {n: Image.fromarray(getattr(data, n)()) for n in ("astronaut", "coffee", "chelsea")}
    pics["camera"] = Image.fromarray(data.camera())
    pics["text"] = fine_text()
    pics["brick"] = Image.fromarray(data.brick())
    pics["grass"] = Image.fromarray(data.grass())
    return pics


# ---------------------------------------------------------------------------- ageing
def _disc(mask: np.ndarray, y: int, x: int, r: float) -> None:
    h, w = mask.shape
    y0, y1, x0, x1 = (
        max(0, int(y - r - 1)),
        min(h, int(y + r + 2)),
        max(0, int(x - r - 1)),
        min(w, int(x + r + 2)),
    )
    yy, xx = np.mgrid[y0:y1, x0:x1]
    mask[y0:y1, x0:x1] |= (yy - y) ** 2 + (xx - x) ** 2 <= r * r


def age(clean: Image.Image, seed: int) -> tuple[Image.Image, np.ndarray]:
    """An aged print and its damage mask (specks, scratches, a crack, stains)."""
    rng = np.random.default_rng(seed)
    a = np.asarray(clean, np.float32)
    grey = a.ndim == 2
    if grey:
        a = a[..., None]
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1 - 0.18 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 4
    a = (40 + 0.6 * a) * vignette[..., None]
    if not grey:
        a = a * np.array([1.0, 0.92, 0.74]) + np.array([10, 6, 0])
    stain = np.zeros((h, w), np.float32)
    for _ in range(2):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.06, 0.12) * max(h, w)
        stain += 28 * np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))
    a = a - stain[..., None] * (np.array([0.8, 1.0, 1.3]) if not grey else 1.0)
    damage = np.zeros((h, w), bool)
    bright = np.zeros((h, w), bool)
    dark = np.zeros((h, w), bool)
    for _ in range(int(90 * h * w / 512**2)):
        y, x, r = rng.integers(0, h), rng.integers(0, w), rng.uniform(0.8, 3.5)
        _disc(bright if rng.random() < 0.7 else dark, int(y), int(x), r)
    lines = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(lines)
    for _ in range(4):  # hairline scratches
        y0, x0 = rng.uniform(0.1, 0.9) * h, rng.uniform(0, 0.5) * w
        pts = [(x0 + t, y0 + 6 * math.sin(t / 37)) for t in np.linspace(0, w / 3, 60)]
        draw.line(pts, fill=255, width=int(rng.integers(1, 3)))
    x, y = rng.uniform(0.2, 0.8) * w, 0.0  # a crack from the top edge
    pts = [(x, y)]
    while y < h * 0.6:
        x, y = x + rng.normal(0, 4), y + rng.uniform(3, 8)
        pts.append((x, y))
    draw.line(pts, fill=255, width=2)
    bright |= np.asarray(lines) > 0
    a[bright] = 236 + rng.normal(0, 4, (int(bright.sum()), 1))
    a[dark] = 30
    damage = bright | dark
    damage = (
        np.asarray(Image.fromarray(damage.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3)))
        > 0
    )
    age.last_thin = damage.copy()  # type: ignore[attr-defined]
    damage |= stain > 8
    grain = np.asarray(
        Image.fromarray(rng.normal(128, 40, (h, w)).clip(0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(0.5)
        ),
        np.float32,
    )
    a = a + (grain[..., None] - 128) * 0.16
    if not grey:
        a = a + rng.normal(0, 2, a.shape)
    out = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    scan = Image.fromarray(out[..., 0] if grey else out)
    return _jpeg(scan, 90), damage


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    import io

    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert(im.mode)


# ---------------------------------------------------------------------------- stand-ins
def sent_size(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(8, round(size[0] / factor)), max(8, round(size[1] / factor))


def perfect_model(clean: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Restores perfectly at the size it is sent: the clean picture at that size, as RGB."""
    return clean.convert("RGB").resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def realistic_model(clean: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Not perfect: its own tone curve, a slight blur, a warm shift, skin smoothed."""
    im = perfect_model(clean, size)
    a = np.asarray(im, np.float32) / 255
    a = a ** np.array([0.9, 0.93, 1.0]) * 255 + np.array([6, 2, -5])
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    smooth = im.filter(ImageFilter.GaussianBlur(2.5))
    hsv = np.asarray(im.convert("HSV"), np.float32)
    skin = ((hsv[..., 0] < 40) & (hsv[..., 1] > 40) & (hsv[..., 2] > 80)).astype(np.uint8) * 255
    mask = Image.fromarray(skin).filter(ImageFilter.GaussianBlur(2))
    return Image.composite(smooth, im, mask)


def merged(answer: Image.Image, scan: Image.Image) -> tuple[Image.Image, findings.Findings]:
    ctx = OpContext(original_size=scan.size)
    handoff.leave(ctx, scan, "stand-in")
    with findings.collecting() as found:
        out = merge_detail(answer, ctx, **GRAIN)
    return out, found


# ---------------------------------------------------------------------------- metrics
def _arr(im: Image.Image, grey: bool) -> np.ndarray:
    return np.asarray(im.convert("L" if grey else "RGB"), np.float32)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(a, b, channel_axis=2 if a.ndim == 3 else None, data_range=255)
    )


def detail(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Correlation of the 1.5-px high-pass bands of the luminances (over `where` if given)."""
    import cv2

    def hp(x: np.ndarray) -> np.ndarray:
        y = x.mean(axis=2) if x.ndim == 3 else x
        return y - cv2.GaussianBlur(y, (0, 0), 1.5)

    x, y = hp(a), hp(b)
    if where is not None:
        x, y = x[where], y[where]
    return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])


def outside_damage(thin: np.ndarray) -> np.ndarray:
    """Pixels whose 1.5-px high-pass no speck, scratch or crack reaches (±4 px of them)."""
    import cv2

    near = cv2.dilate(thin.astype(np.uint8), np.ones((9, 9), np.uint8))
    out: np.ndarray = near == 0
    return out


def damage_error(a: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> float:
    err = np.abs(a - clean)
    return float(err[mask].mean())


def quality(model: str) -> list[dict[str, float | str]]:
    rows = []
    for i, (name, clean) in enumerate(clean_pictures().items()):
        grey = clean.mode == "L"
        scan, damage = age(clean, seed=100 + i)
        ref = _arr(clean, grey)
        # The ceiling: how much of the clean picture's fine detail the scan itself holds
        # where it is not damaged (grain and JPEG are all the merge has to work with there).
        ceiling = detail(_arr(scan, grey), ref, outside_damage(age.last_thin))  # type: ignore[attr-defined]
        for factor in FACTORS:
            size = sent_size(scan.size, factor)
            answer = (perfect_model if model == "perfect" else realistic_model)(clean, size)
            resized = answer.resize(scan.size, Image.Resampling.LANCZOS)
            t0 = time.perf_counter()
            ours, found = merged(answer, scan)
            seconds = time.perf_counter() - t0
            r, o = _arr(resized, grey), _arr(ours, grey)
            rows.append(
                {
                    "image": name,
                    "factor": factor,
                    "ssim_resize": ssim(r, ref),
                    "ssim_merge": ssim(o, ref),
                    "detail_resize": detail(r, ref),
                    "detail_merge": detail(o, ref),
                    "ceiling": ceiling,
                    "damage_resize": damage_error(r, ref, damage),
                    "damage_merge": damage_error(o, ref, damage),
                    "seconds": seconds,
                    "drift": found.measurements.get("drift", {}).get("kind", "-"),
                    "repaired": found.measurements.get("repaired_pct", 0.0),
                    "review": "; ".join(found.review),
                }
            )
    return rows


def print_quality(model: str, rows: list[dict[str, float | str]]) -> None:
    print(f"\nstand-in model: {model}")
    print(
        f"{'image':10s} {'f':>2s} | {'SSIM resize':>11s} {'merge':>6s} {'gain':>6s} | "
        f"{'detail resize':>13s} {'merge':>6s} {'ratio':>6s} {'ceiling':>7s} {'m/ceil':>6s} | "
        f"{'damage err resize':>17s} {'merge':>6s} {'ratio':>6s}"
    )
    for r in rows:
        print(
            f"{r['image']:10s} {r['factor']:>2} | {r['ssim_resize']:11.3f} {r['ssim_merge']:6.3f} "
            f"{r['ssim_merge'] - r['ssim_resize']:+6.3f} | {r['detail_resize']:13.3f} "
            f"{r['detail_merge']:6.3f} {r['detail_merge'] / max(r['detail_resize'], 1e-6):6.2f} "
            f"{r['ceiling']:7.3f} {r['detail_merge'] / r['ceiling']:6.2f} | "
            f"{r['damage_resize']:17.2f} {r['damage_merge']:6.2f} "
            f"{r['damage_merge'] / r['damage_resize']:6.2f} | {r['drift']} "
            f"{r['repaired']:.1f}% {r['review']}"
        )
    gains = [r["ssim_merge"] - r["ssim_resize"] for r in rows]
    ratios = [r["detail_merge"] / max(r["detail_resize"], 1e-6) for r in rows]
    damage = [r["damage_merge"] / r["damage_resize"] for r in rows]
    mean_detail = np.mean([r["detail_merge"] for r in rows]) / np.mean(
        [r["detail_resize"] for r in rows]
    )
    mean_damage = np.mean([r["damage_merge"] for r in rows]) / np.mean(
        [r["damage_resize"] for r in rows]
    )
    print(
        f"mean SSIM gain {np.mean(gains):+.3f} (goal ≥ +0.05), worst {min(gains):+.3f} (goal ≥ 0); "
        f"detail ratio min {min(ratios):.2f}×, of the means {mean_detail:.2f}× (goal ≥ 2× on "
        f"every image); damage error ratio max {max(damage):.2f}×, of the means "
        f"{mean_damage:.2f}× (goal ≤ 1.2×)"
    )
    for factor in FACTORS:
        sub = [r for r in rows if r["factor"] == factor]
        gain = np.mean([r["ssim_merge"] - r["ssim_resize"] for r in sub])
        ratio = np.mean([r["detail_merge"] for r in sub]) / np.mean(
            [r["detail_resize"] for r in sub]
        )
        print(
            f"  factor {factor}: mean SSIM gain {gain:+.3f}, detail ratio of the means {ratio:.2f}×"
        )
    for r in rows:
        need = 2 * float(r["detail_resize"])
        if r["detail_merge"] >= need:
            continue
        why = (
            f"2× needs {need:.2f}, above the scan's own ceiling {r['ceiling']:.2f}"
            if need > r["ceiling"]
            else f"2× needs {need:.2f}, below the ceiling {r['ceiling']:.2f}: detail is lost"
        )
        print(
            f"  below 2×: {r['image']} f{r['factor']}: {why}; the merge reaches "
            f"{r['detail_merge']:.2f} = {r['detail_merge'] / r['ceiling']:.2f} of the ceiling"
        )


CHILD = r"""
import io, json, sys, time
from pathlib import Path
from PIL import Image
from service.pipeline import handoff
from service.pipeline.ops.merge import merge_detail
from service.pipeline.registry import OpContext
import service.pipeline.ops  # noqa: F401 - same imports in every mode, so the baseline matches

def peak_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

mode, path, answer_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
merge_s = 0.0
if mode == "floor":
    im = Image.open(path)
    im.load()
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
elif mode in ("merge", "merge-shared"):
    answer = Image.open(answer_path).convert("RGB")
    scan = Image.open(path)
    scan.load()
    ctx = OpContext(original_size=scan.size)
    handoff.leave(ctx, scan, "stand-in")
    if mode == "merge":
        del scan  # the context holds the scan, as after a model step
    t1 = time.perf_counter()
    out = merge_detail(answer, ctx)
    merge_s = time.perf_counter() - t1
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=92)
print(json.dumps({"seconds": time.perf_counter() - t0, "merge": merge_s, "peak_kib": peak_kib()}))
"""


def make_scan(path: Path, answer_path: Path) -> int:
    """A 600-dpi-sized aged print (6,700 × 6,700 JPEG) and a perfect 1-megapixel answer."""
    from skimage import data

    clean = Image.fromarray(data.astronaut()).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    small, _ = age(clean.resize((SIDE // 4, SIDE // 4), Image.Resampling.BOX), seed=7)
    scan = small.resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(3).normal(0, 5, (SIDE // 8, SIDE // 8)).astype(np.float32)
    grain = Image.fromarray(np.clip(noise + 128, 0, 255).astype(np.uint8)).resize((SIDE, SIDE))
    scan = Image.merge("RGB", [Image.blend(b, grain, 0.08) for b in scan.split()])
    scan.save(path, "JPEG", quality=92)
    perfect_model(clean, (1024, 1024)).save(answer_path, "PNG")
    return SIDE * SIDE * 3


def run_child(mode: str, path: Path, answer: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), str(answer)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def best_of(modes: tuple[str, ...], path: Path, answer: Path) -> dict[str, dict[str, float]]:
    """Per mode, the fastest of REPEATS runs and the median peak memory. The runs take turns
    (floor, merge, floor, merge, …): the machine is shared, and a run that waited for someone
    else's work should not decide a ratio of two runs that did not."""
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(REPEATS):
        for mode in modes:
            runs[mode].append(run_child(mode, path, answer))
    out = {}
    for mode, results in runs.items():
        fastest = min(results, key=lambda r: r["merge"] or r["seconds"])
        peaks = sorted(r["peak_kib"] for r in results)
        out[mode] = {**fastest, "peak_kib": peaks[len(peaks) // 2]}
    return out


def cost() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, answer = Path(tmp) / "scan.jpg", Path(tmp) / "answer.png"
        decoded = make_scan(path, answer)
        runs = best_of(("baseline", "floor", "merge", "merge-shared"), path, answer)
    base, floor, ours, shared = (runs[m] for m in ("baseline", "floor", "merge", "merge-shared"))
    base_b = base["peak_kib"] * 1024
    floor_mem = floor["peak_kib"] * 1024 - base_b
    merge_mem = ours["peak_kib"] * 1024 - base_b
    shared_mem = shared["peak_kib"] * 1024 - base_b
    print(f"\n600-dpi scan {SIDE}×{SIDE}, {decoded / 1e6:.0f} MB decoded, answer 1024×1024")
    print(f"(each figure the fastest of {REPEATS} runs taking turns, each in its own process)")
    print(
        f"floor (Pillow decode + encode): {floor['seconds']:.2f} s, peak +{floor_mem / 1e6:.0f} MB"
    )
    print(
        f"decode + merge + encode: {ours['seconds']:.2f} s (merge alone {ours['merge']:.2f} s), "
        f"peak +{merge_mem / 1e6:.0f} MB"
    )
    print(
        f"merge / floor time: {ours['merge'] / floor['seconds']:.2f}× (goal ≤ 2×); "
        f"whole run / floor: {ours['seconds'] / floor['seconds']:.2f}×"
    )
    print(
        f"peak memory / decoded image (W×H×3): {merge_mem / decoded:.2f}× (goal ≤ 3×); Pillow "
        f"holds RGB as 4 bytes a pixel, so scan + result alone are {2 * 4 / 3:.2f}× of that"
    )
    print(
        f"  with the scan still held elsewhere (the result cannot take its memory): "
        f"merge {shared['merge'] / floor['seconds']:.2f}× the floor, peak "
        f"{shared_mem / decoded:.2f}×"
    )


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("all", "quality"):
        for model in ("perfect", "realistic"):
            print_quality(model, quality(model))
    if what in ("all", "cost"):
        cost()


if __name__ == "__main__":
    main()
