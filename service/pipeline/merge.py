"""The merge of a model's small answer with the full-size scan: the model's tone, colour and
repairs, the scan's own detail. Planned here, at the answer's size; done by `compose`.

Every output pixel is

    answer↑ + w · detail,        detail = grey(scan) − grey(small)↑

where `answer↑` is the aligned answer enlarged (the low band: tone, colour, the repairs) and
`detail` is the scan's luminance minus its own low band as the model saw it (`small`, brought
up the same way as the answer): exactly the band the answer lacks, the same in every colour
channel (chroma grain and JPEG's colour blocks stay behind; the eye resolves little colour).
Both low bands are laid out on the grid of `views` (the scan box-reduced by a whole step k)
and enlarged by exactly k, strip by strip, without seams. The weight w is the product of

- the detail gain (`tonefit.detail_gain`): how much the model scaled the finest detail both
  images hold, so a faded print's detail comes back at the restored contrast;
- 1 − the repair mask (where the model repaired, its own pixels stand: `repairs`);
- 1 − a dust test: a spike far outside what is usual at that place (`allow`) is damage below
  the answer's resolution, which no mask at the answer's size can show;
- a Wiener shrink that takes the grain out of the detail and leaves texture (`grain`).

In repairs, synthetic grain of the strength left elsewhere keeps them from looking pasted.
Every term is prepared here as a uint8 field on the grid; the full-size pass only enlarges,
compares and multiplies, in OpenCV's compiled 8-bit loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.pipeline import grain, repairs, tonefit, views

SPIKE_SIGMAS = 4.0  # a spike this many grain sigmas out of what is usual is dust
WEIGHT_ONE = 48  # the weight field's 1.0: a faded print's detail may need ×5


@dataclass(frozen=True)
class Plan:
    """Everything the full-size pass needs: small fields on the grid and a few numbers."""

    k: int  # the grid's step
    scan_size: tuple[int, int]
    answer: np.ndarray  # gh×gw×C uint8: the aligned answer on the grid (the low band)
    low: np.ndarray  # gh×gw uint8: the scan's own low band (grey)
    weight: np.ndarray  # gh×gw uint8: detail gain · (1 − repair), WEIGHT_ONE = 1
    allow: np.ndarray  # gh×gw uint8: how far detail may stray before it is dust (grey levels)
    repair: np.ndarray | None  # gh×gw uint8, 255 = repaired; None when no grain goes there
    grain: float  # the grain's sigma in the detail band, the scan's grey levels
    wiener: float  # the grain sigma the Wiener shrink removes (0: the grain is kept)
    grain_left: float  # the grain's sigma after the shrink: what repairs are given

    @property
    def channels(self) -> int:
        """Output colour channels."""
        return int(self.answer.shape[2])


@dataclass(frozen=True)
class Check:
    """What the face check and the step's record need, at the plan size (h×w float32)."""

    matched: np.ndarray  # the tone-matched scan's luminance
    answer: np.ndarray  # the aligned answer's luminance
    repair: np.ndarray  # 1 where the model repaired

    def repaired_fraction(self) -> float:
        """How much of the picture the model repaired (0…1)."""
        return float(self.repair.mean())


def grid_matrix(v: views.Views, scan_size: tuple[int, int]) -> np.ndarray:
    """The affine map from grid pixels to plan pixels (pixel centres: the grid's cell x covers
    scan pixels k·x … k·x + k − 1, the plan's pixel p the scan's width · p / w …)."""
    w, h = v.plan_size
    sx, sy = v.k * w / scan_size[0], v.k * h / scan_size[1]
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]], np.float64)


def to_grid(
    a: np.ndarray, matrix: np.ndarray, grid: tuple[int, int], flags: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """A plan-size field (≥ 0) sampled on the grid at `matrix` (grid → the field's pixels),
    uint8: rounded and saturated to 8 bits first, since OpenCV's 8-bit warps are the fast ones."""
    u8 = a if a.dtype == np.uint8 else cv2.convertScaleAbs(a)
    out: np.ndarray = cv2.warpAffine(
        u8,
        matrix.astype(np.float32),
        grid,
        flags=flags | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return out.reshape(grid[1], grid[0], -1) if a.ndim == 3 else out


def answer_on_grid(
    v: views.Views, answer: np.ndarray, drift: np.ndarray, scan_size: tuple[int, int]
) -> np.ndarray:
    """The plan-size answer (h×w×C uint8) aligned by `drift` and sampled on the grid in one
    (bicubic) interpolation: the grid is slightly finer than the plan."""
    g = np.vstack([grid_matrix(v, scan_size), [0, 0, 1]])
    m = np.vstack([drift, [0, 0, 1]]) @ g
    grid = (int(v.grid.shape[1]), int(v.grid.shape[0]))
    return to_grid(answer, m[:2], grid, cv2.INTER_CUBIC).reshape(grid[1], grid[0], -1)


def plan(
    v: views.Views,
    aligned: np.ndarray,
    answer_grid: np.ndarray,
    scan_size: tuple[int, int],
    *,
    damage: np.ndarray | None = None,
    keep_grain: float = 0.0,
) -> tuple[Plan, Check]:
    """Fit the tone, find the repairs and the grain, and lay the fields out on the grid.

    `aligned` is the answer aligned onto `v.small` (h×w×C float32), `answer_grid` the same on
    the grid (`answer_on_grid`).
    """
    fit = tonefit.fit(v.small, aligned)
    matched = fit.apply(v.small)
    white = views.white_noise(v.bands)
    scale = scan_size[0] / v.plan_size[0]
    slope0 = float(np.median(fit.gain[::2, ::2])) * _curve_slope(fit, v.small)
    answer_luma = views.luma(aligned)
    mask, matched_luma = repairs.repair_mask(matched, aligned, answer_luma, white * slope0 / scale)
    del matched, fit
    repair = repairs.add_damage(mask, damage)
    check = Check(matched_luma, answer_luma, repair)
    gain, slope = tonefit.detail_gain(v.grey.astype(np.float32), check.answer, 1.0 - repair)
    spread = views.block_spread(v.bands, v.k)
    grid = (int(v.grid.shape[1]), int(v.grid.shape[0]))
    sigma = grain.grain_level(spread, v.band_rows, grid, grain.span(check.answer), white)
    usual = grain.usual_texture(spread, v.plan_size)
    allow = np.maximum(repairs.allowance(check.answer / gain, usual), SPIKE_SIGMAS * sigma)
    weight = gain * (1.0 - repair) * WEIGHT_ONE
    share = max(0.0, 1.0 - keep_grain)
    left = sigma * slope * grain.left_after(share) if sigma > 0 else 0.0
    to = grid_matrix(v, scan_size)
    return (
        Plan(
            k=v.k,
            scan_size=scan_size,
            answer=answer_grid,
            low=to_grid(v.grey, to, grid, cv2.INTER_CUBIC),
            weight=to_grid(weight.astype(np.float32), to, grid),
            allow=to_grid(allow.astype(np.float32), to, grid),
            repair=to_grid(repair * 255, to, grid) if left >= 0.5 else None,
            grain=sigma,
            wiener=share * sigma,
            grain_left=left,
        ),
        check,
    )


def _curve_slope(fit: tonefit.ToneFit, small: np.ndarray) -> float:
    """The tone curves' typical slope over the scan's levels (scan grey → output levels)."""
    slopes = []
    for c, s in enumerate(fit.sources):
        d = np.gradient(fit.luts[c].astype(np.float64))
        levels = small[::2, ::2, s].ravel()  # a quarter of the pixels: a histogram's worth
        counts = np.bincount(levels, minlength=256)[:256].astype(np.float64)
        order = np.argsort(d)  # the median of d over the scan's pixels, from its histogram
        cumulative = np.cumsum(counts[order])
        slopes.append(float(d[order][np.searchsorted(cumulative, cumulative[-1] / 2)]))
    return max(0.0, float(np.mean(slopes)))
