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
take its memory), and once more with the scan held elsewhere too (`fullres_cost.py`).

    .venv/bin/python bench/bench_fullres.py            # quality tables and cost
    .venv/bin/python bench/bench_fullres.py quality    # only the tables
    .venv/bin/python bench/bench_fullres.py cost       # only the 600-dpi cost
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.pipeline.fullres_support import merged, perfect_at, realistic_at  # noqa: E402

FACTORS = (4, 6)


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
            answer = (perfect_at if model == "perfect" else realistic_at)(clean, size)
            resized = answer.resize(scan.size, Image.Resampling.LANCZOS)
            t0 = time.perf_counter()
            ours, found, _ = merged(answer, scan)
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


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("all", "quality"):
        for model in ("perfect", "realistic"):
            print_quality(model, quality(model))
    if what in ("all", "cost"):
        import fullres_cost  # the 600-dpi half; it borrows this module's ageing

        fullres_cost.cost()


if __name__ == "__main__":
    main()
