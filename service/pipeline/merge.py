"""The merge of a model's small answer with the full-size scan: the model's tone, colour and
repairs, the scan's own detail.

At the answer's size (`plan`): the answer is aligned onto the scan (see `align`), its tone is
described as a function of the scan (`tonefit`), and the places it repaired are found
(`repairs`). At full size (`compose`), strip by strip, every pixel is

    answer↑ + w · detail(scan)  +  (1 − w) · grain

where `answer↑` is the aligned answer enlarged (the low band: tone, colour, the repairs),
`detail` is the scan with the model's tone minus its own low band (exactly the band the answer
lacks), lightly cored so grain does not dominate flat areas, and w is 0 where the model repaired
(and where a spike stands out of a region the answer says is smooth: dust below the answer's
resolution). In repairs, synthetic grain of the strength left elsewhere keeps them from
looking pasted. Only the input, the output and two strips of a few float arrays are alive at
once: a 45-megapixel scan stays within ~3× its decoded size.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from service.pipeline import repairs, tonefit
from service.pipeline.ops._common import estimate_noise, ordered_map, strips

STRIP = 32  # rows per strip: 6,700 px wide, that is ~2.6 MB per float array of three bands
SPIKE_SIGMAS = 4.0  # a spike this many grain-sigmas out of a smooth region is dust
GRAIN_TILE = 256


@dataclass(frozen=True)
class Plan:
    """Everything the full-size pass needs, at the answer's size."""

    luts: np.ndarray  # C×256: the global tone curves (see tonefit)
    sources: tuple[int, ...]  # the scan band each curve reads
    matched: np.ndarray  # h×w: the tone-matched scan's luminance at the answer's size
    lowband: np.ndarray  # h×w×C: the aligned answer itself (+0.5, so truncation rounds)
    # h×w×5, luminance level: gain and offset such that detail = gain·curve(scan) + offset; the
    # repair mask (1 = the model repaired); how far detail may stray from the answer; the
    # coring threshold.
    fields: np.ndarray
    grain: float  # the grain's sigma in the detail band, grey levels
    core: float  # coring threshold for the detail, grey levels (0: keep all grain)
    grain_left: float  # the grain's sigma after coring: what repairs are given
    scan_size: tuple[int, int]

    @property
    def channels(self) -> int:
        """Output channels."""
        return int(self.lowband.shape[2])

    @property
    def repair(self) -> np.ndarray:
        """1 where the model repaired (h×w)."""
        out: np.ndarray = self.fields[..., 2].astype(np.float32)
        return out

    def repaired_fraction(self) -> float:
        """How much of the picture the model repaired (0…1)."""
        return float(self.repair.mean())

    def luma_lut(self) -> np.ndarray:
        """The tone curves as one cv2.LUT table (1×256×S) whose bands sum to the luminance."""
        bands = max(self.sources) + 1
        table = np.zeros((256, bands), np.float32)
        for c, s in enumerate(self.sources):
            table[:, s] += self.luts[c] / len(self.sources)
        return table.reshape(1, 256) if bands == 1 else table.reshape(1, 256, bands)


def scan_bands(image: Image.Image) -> np.ndarray:
    """Colour bands of a (small) scan as H×W×S uint8, alpha dropped."""
    a = np.asarray(image)
    if a.ndim == 2:
        return a[:, :, None]
    return a[:, :, :1] if image.mode == "LA" else a[:, :, :3]


def plan(
    scan: Image.Image,
    scan_small: Image.Image,
    answer: np.ndarray,
    *,
    damage: np.ndarray | None = None,
    keep_grain: float = 0.0,
) -> Plan:
    """Fit tone and find repairs; `answer` is aligned onto `scan_small` (h×w×C float32)."""
    small = scan_bands(scan_small)
    f = scan.width / scan_small.width
    noise = estimate_noise(scan)
    fit = tonefit.fit(small, answer)
    matched = fit.apply(small)
    repair = repairs.add_damage(repairs.repair_mask(matched, answer, noise / f), damage)
    # The tone-matched scan's own low band, in the form detail = curve(scan)·gain + offset.
    offset = (fit.offset - matched).mean(axis=2)
    gain = fit.gain.mean(axis=2)
    slope = _slope(fit, small)
    matched_luma = matched.mean(axis=2).astype(np.float32)
    luts, sources = fit.luts, fit.sources
    del matched, fit  # ~50 MB at a megapixel: the full-size pass must not carry them
    luma_curve = luts.mean(axis=0).astype(np.float32)  # scan luminance → answer's, roughly
    busy = repairs.block_detail(scan, scan_small.size, luma_curve)
    grain = grain_level(busy, answer, noise * slope)
    core = max(0.0, 1.0 - keep_grain) * 2.0 * grain
    fields = np.stack(
        [gain, offset, repair, repairs.allowance(answer, busy), _coring(answer, grain, core)],
        axis=2,
    ).astype(np.float16)
    return Plan(
        luts=luts,
        sources=sources,
        matched=matched_luma,
        lowband=(answer + 0.5).astype(np.float16),
        fields=fields,
        grain=grain,
        core=core,
        grain_left=residual_grain(grain, core),
        scan_size=scan.size,
    )


def _coring(answer: np.ndarray, grain: float, core: float) -> np.ndarray:
    """Per pixel coring threshold: twice as strong where the answer is smooth.

    In a sky or a cheek the scan's fine "detail" is grain; in fabric or print it is detail.
    """
    luma = answer.mean(axis=2).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    span = cv2.dilate(luma, kernel) - cv2.erode(luma, kernel)
    smooth = np.clip(1.5 - span / (4.0 * grain + 1e-3), 0, 1)
    out: np.ndarray = core * (1.0 + smooth)
    return out


def grain_level(busy: np.ndarray, answer: np.ndarray, white: float) -> float:
    """The grain's sigma in the detail band (output levels).

    Film grain is not white: a pixel-difference estimate (`white`, from `estimate_noise`)
    sees only part of it. Where the answer is smoothest, what the scan still holds inside each
    of the answer's pixels is grain; the white estimate only caps it (a picture that is all
    texture has no smooth place to look).
    """
    luma = answer.mean(axis=2)
    kernel = np.ones((3, 3), np.uint8)
    span = cv2.dilate(luma, kernel) - cv2.erode(luma, kernel)
    smooth = span <= np.percentile(span, 25)
    if not smooth.any() or not busy.any():
        return white
    measured = float(np.median(busy[smooth]))
    return min(measured, 3.0 * white) if white > 0 else measured


def _slope(fit: tonefit.ToneFit, small: np.ndarray) -> float:
    """The typical gain from scan to output levels (how much the scan's grain is amplified)."""
    slopes = []
    for c, s in enumerate(fit.sources):
        d = np.gradient(fit.luts[c].astype(np.float64))
        slopes.append(float(np.median(d[small[..., s]] * fit.gain[..., c])))
    return max(0.0, float(np.mean(slopes)))


def _enlarge(a: np.ndarray, y0: int, y1: int, width: int, height: int) -> np.ndarray:
    """Rows y0:y1 of the low-res field `a` (h×w×≤4) enlarged bilinearly to width×height."""
    h, w = a.shape[:2]
    sx, sy = w / width, h / height
    v0 = (y0 + 0.5) * sy - 0.5
    v1 = (y1 - 0.5) * sy - 0.5
    r0 = max(0, math.floor(v0) - 2)
    r1 = min(h, math.ceil(v1) + 3)
    matrix = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, v0 - r0]], np.float32)
    out: np.ndarray = cv2.warpAffine(
        a[r0:r1].astype(np.float32),  # stored as float16 (half the memory), computed in 32
        matrix,
        (width, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return out.reshape(y1 - y0, width, -1)


def _grain_rows(y0: int, y1: int, width: int) -> np.ndarray:
    """Unit-sigma, slightly soft noise for rows y0:y1 (a fixed tile, so strips agree)."""
    tile = _grain_tile()
    rows = tile[np.arange(y0, y1) % GRAIN_TILE]
    reps = math.ceil(width / GRAIN_TILE)
    out: np.ndarray = np.tile(rows, (1, reps))[:, :width]
    return out


@functools.cache
def _grain_tile() -> np.ndarray:
    noise = np.random.default_rng(1234).normal(0, 1, (GRAIN_TILE, GRAIN_TILE)).astype(np.float32)
    wrapped = np.pad(noise, 4, mode="wrap")  # blurred across its edges, so the tiling is seamless
    soft = cv2.GaussianBlur(wrapped, (0, 0), 0.6)[4:-4, 4:-4]
    out: np.ndarray = soft / soft.std()
    return out


def residual_grain(sigma: float, core: float) -> float:
    """The grain's sigma left after coring Gaussian grain of `sigma` at `core`."""
    if sigma <= 0:
        return 0.0
    x = np.random.default_rng(7).normal(0, sigma, 20_000)
    kept = x * x * x / (x * x + core * core) if core > 0 else x
    return float(kept.std())


def _strip(p: Plan, band: np.ndarray, lut: np.ndarray, y0: int, y1: int) -> np.ndarray:
    """Rows y0:y1 of the result as rows×W×C uint8; `band` is the scan's same rows (uint8).

    Colour comes from the model: the scan gives its luminance detail only, the same to every
    band (chroma grain and JPEG's colour blocks stay behind; the eye resolves little colour).
    """
    width, height = p.scan_size
    f = _enlarge(p.fields, y0, y1, width, height)
    out = _enlarge(p.lowband, y0, y1, width, height)
    curve = cv2.LUT(band, lut)
    luma = (
        curve if curve.ndim == 2 else cv2.transform(curve, np.ones((1, curve.shape[2]), np.float32))
    )
    del curve
    luma = luma.reshape(y1 - y0, width)
    luma *= f[..., 0]
    luma += f[..., 1]
    keep: np.ndarray = 1.0 - f[..., 2]
    spike = np.abs(luma)
    spike -= np.maximum(f[..., 3], SPIKE_SIGMAS * p.grain)
    spike *= 1.0 / (2 * p.grain + 2)
    np.clip(spike, 0, 1, out=spike)
    if spike.any():
        keep *= 1.0 - cv2.dilate(spike, np.ones((3, 3), np.uint8))
    del spike
    if p.core > 0:
        sq: np.ndarray = luma * luma
        threshold = f[..., 4]
        shrink: np.ndarray = sq / (sq + threshold * threshold)
        luma *= shrink
        del sq, shrink, threshold
    del f
    luma *= keep
    if p.grain_left > 0 and float(keep.min()) < 0.99:
        luma += (1.0 - keep) * _grain_rows(y0, y1, width) * p.grain_left
    out += luma[..., None]
    del luma
    np.clip(out, 0, 255, out=out)
    result: np.ndarray = out.astype(np.uint8)
    return result


def release_memory() -> None:
    """Hand freed heap memory back to the system (glibc only; elsewhere nothing to do).

    The plan's temporaries are freed before the full-size pass, but glibc keeps freed blocks
    below its mmap threshold in the heap and in each thread's arena, so the process would carry
    them into the pass that allocates the full-size output: that would be the peak.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def compose(scan: Image.Image, p: Plan) -> Image.Image:
    """The full-size result, strip by strip on the shared strip workers."""
    release_memory()
    width, height = p.scan_size
    mode = "L" if p.channels == 1 else "RGB"
    out = Image.new(mode, (width, height))

    lut = p.luma_lut()

    def job(span: tuple[int, int]) -> tuple[int, np.ndarray]:
        y0, y1 = span
        band = scan_bands(scan.crop((0, y0, width, y1)))
        band = band[..., 0] if lut.ndim == 2 else band[..., : lut.shape[2]]
        return y0, _strip(p, np.ascontiguousarray(band), lut, y0, y1)

    for y0, rows in ordered_map(job, strips(height, STRIP)):
        out.paste(Image.fromarray(rows[..., 0] if mode == "L" else rows, mode), (0, y0))
    return out
