"""Filling a large hole (a torn corner, a missing patch) so that grain and pattern go on across it.

A diffusion inpaint (`cv2.inpaint`) continues the colours and the edges that run into a hole,
but inside a large hole it leaves a smooth smear: on a grainy print that is a pasted-on patch.
So the fill is split in two bands:

- the *structure* (a Gaussian low-pass at DETAIL_SIGMA) comes from `structure.diffused`
  (Navier–Stokes inpainting, softened deep inside the hole);
- the *detail* (what the low-pass leaves: grain, fibres, brick joints, wood) is quilted into the
  hole block by block from undamaged places nearby (Efros & Freeman's image quilting, with
  random candidates and the neighbours' offsets as in PatchMatch). A block is chosen for how
  well its detail agrees with what is already there (the hole's rim, the blocks placed before),
  how well its low-pass matches the structure at the target (so sky is taken for sky, not a
  face for a wall), and how close its detail's energy is to what the surroundings have there
  (so a flat wall never gets an eye's worth of edges). Blocks are placed from the rim inward.

Memory stays at a few crop-sized uint8/uint16 arrays; candidate blocks are views into them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from service.pipeline.damage import structure

DETAIL_SIGMA = 3.0  # px: the band below which texture is copied rather than diffused
BLOCK = 32  # px: the core of a quilted block
OVERLAP = 8  # px on each side: where a block is matched against what is there and feathered in
PRESELECT = 16  # of them, the best by guide and energy are matched on their detail
CANDIDATES = 64  # random sources per block (plus its placed neighbours' offsets)
MATCH_STRIDE = 2
GUIDE_STEP = 4  # the structure guide is compared at this reduction
GUIDE_WEIGHT = 0.5  # guide mismatch (grey² per pixel) against detail mismatch
ENERGY_WEIGHT = 2.0  # (log energy ratio)² × expected energy: the penalty for the wrong amount
SOURCE_REACH = 3  # blocks: sources come from this near first (no face copied onto a wall)
TOO_BUSY = 3.0
TYPICAL_CAP = 1.5  # × the crop's median block energy: the most detail a block may bring
COHERENCE = 0.85  # a neighbour's offset wins ties: whole stretches of a pattern are copied
INPAINT_RADIUS = 3
ENERGY_WINDOW = 3 * BLOCK  # px: the median window of the usual texture


class _Quilt:
    """The state of one hole's quilting: the sources, the guide and the detail placed so far."""

    def __init__(self, s: np.ndarray, hole: np.ndarray, damaged: np.ndarray, seed: int) -> None:
        self.s = s if s.ndim == 3 else s[..., None]
        h, w, c = self.s.shape
        self.hole = hole
        self.low = cv2.GaussianBlur(s, (0, 0), DETAIL_SIGMA).reshape(self.s.shape)
        self.size = BLOCK + 2 * OVERLAP
        self.rng = np.random.default_rng(seed)
        # Sources keep clear of damage by the blur's reach: their detail is the print's own.
        reach = int(2 * DETAIL_SIGMA) * 2 + 1
        bad = cv2.dilate(damaged.astype(np.uint8), np.ones((reach, reach), np.uint8))
        self.bad_sum = cv2.integral(bad)
        self.known = ~damaged
        # The detail placed so far is kept over the hole's box (and a block round it) only.
        ys, xs = _extent(hole)
        p = self.size
        self.area = (
            slice(max(0, int(ys.min()) - p), min(h, int(ys.max()) + p + 1)),
            slice(max(0, int(xs.min()) - p), min(w, int(xs.max()) + p + 1)),
        )
        area_h = self.area[0].stop - self.area[0].start
        area_w = self.area[1].stop - self.area[1].start
        self.placed = np.zeros((area_h, area_w), bool)
        self.detail = np.zeros((area_h, area_w, c), np.float32)
        small = (max(1, w // GUIDE_STEP), max(1, h // GUIDE_STEP))
        self.guide = self._small(self.s, small)
        self.energy = self._expected_energy(small, damaged)
        self.win_s = sliding_window_view(self.s, (self.size, self.size), axis=(0, 1))
        self.win_low = sliding_window_view(self.low, (self.size, self.size), axis=(0, 1))
        self.offsets: dict[tuple[int, int], tuple[int, int]] = {}

    @staticmethod
    def _small(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        small = cv2.resize(a, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        out = small.reshape(size[1], size[0], -1)
        blurred: np.ndarray = cv2.GaussianBlur(out, (0, 0), 2 * DETAIL_SIGMA / GUIDE_STEP)
        return blurred.reshape(out.shape)

    def _local(self, box: tuple[slice, slice]) -> tuple[slice, slice]:
        """`box` (crop coordinates) in the coordinates of the detail's area."""
        y, x = self.area[0].start, self.area[1].start
        return slice(box[0].start - y, box[0].stop - y), slice(box[1].start - x, box[1].stop - x)

    def _energy_small(self, small: tuple[int, int]) -> np.ndarray:
        """Σ bands d² box-averaged down to the guide's size, strip by strip (a float copy of a
        whole crop would be the fill's peak)."""
        g = GUIDE_STEP
        sw, sh = small
        out = np.zeros((sh, sw), np.float32)
        step = 64
        for r0 in range(0, sh, step):
            r1 = min(sh, r0 + step)
            rows = slice(r0 * g, r1 * g)
            d = self.s[rows, : sw * g].astype(np.float32) - self.low[rows, : sw * g]
            e = (d * d).sum(axis=2)
            out[r0:r1] = e.reshape(r1 - r0, g, sw, g).mean(axis=(1, 3))
        return out

    def _expected_energy(self, small: tuple[int, int], damaged: np.ndarray) -> np.ndarray:
        """The usual detail energy (Σ bands d², per pixel) around each place, carried into the
        holes: the median over a few blocks, so an edge or an eye nearby does not count as the
        texture there (its energy is what a copied block must not bring along)."""
        e = self._energy_small(small)
        cell = max(1, self.size // GUIDE_STEP)
        e = cv2.blur(e, (cell, cell))  # a block's own energy, as the candidates' is measured
        self.block_energy = e
        gone = cv2.resize(damaged.astype(np.uint8), small, interpolation=cv2.INTER_AREA) > 0
        # Log energy in 8 bits (1/8 octave steps) for OpenCV's fast median; holes first get
        # their rim's level so the median is not pulled down by the smooth inpaint.
        level = np.clip(np.rint(8 * np.log2(e + 1.0)), 0, 255).astype(np.uint8)
        if gone.any() and not gone.all():
            level = cv2.inpaint(level, gone.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)
        k = 2 * round(ENERGY_WINDOW / GUIDE_STEP / 2) + 1
        usual = cv2.medianBlur(level, max(3, min(k, 2 * ((min(level.shape) - 1) // 2) + 1)))
        # Nor more than the crop's own typical texture: where the rim is busy with edges (a
        # badge, a strap), copied detail would be a patchwork of their pieces.
        typical = np.median(level[~gone]) if (~gone).any() else 0
        usual = np.minimum(usual, np.uint8(min(255, typical + 8 * math.log2(TYPICAL_CAP))))
        out: np.ndarray = (np.exp2(usual.astype(np.float32) / 8) - 1.0).astype(np.float32)
        return out

    def blocks(self) -> list[tuple[int, int]]:
        """The blocks' top-left corners (with overlap) covering the hole, rim first."""
        ys, xs = _extent(self.hole)
        # Beyond the crop is no picture to start from: the distance is to known pixels only.
        dist = cv2.distanceTransform(self.hole[self.area].astype(np.uint8), cv2.DIST_L2, 3)
        h, w = self.hole.shape
        order = []
        for by in range(int(ys.min()) - OVERLAP, int(ys.max()) + 1 - OVERLAP, BLOCK):
            for bx in range(int(xs.min()) - OVERLAP, int(xs.max()) + 1 - OVERLAP, BLOCK):
                core = (
                    slice(max(0, by + OVERLAP), min(h, by + OVERLAP + BLOCK)),
                    slice(max(0, bx + OVERLAP), min(w, bx + OVERLAP + BLOCK)),
                )
                inside = dist[self._local(core)][self.hole[core]]
                if inside.size:
                    order.append((float(inside.min()), by, bx))
        order.sort()
        return [(by, bx) for _, by, bx in order]

    def _valid(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        p, ii = self.size, self.bad_sum
        inside = (ys >= 0) & (xs >= 0) & (ys + p < ii.shape[0]) & (xs + p < ii.shape[1])
        ys, xs = np.where(inside, ys, 0), np.where(inside, xs, 0)
        count = ii[ys + p, xs + p] - ii[ys, xs + p] - ii[ys + p, xs] + ii[ys, xs]
        ok: np.ndarray = inside & (count == 0)
        return ok

    def candidates(self, by: int, bx: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Source corners for a block: random valid places nearby (the nearest window that has
        enough of them), then the neighbours' offsets."""
        h, w = self.hole.shape
        reach = SOURCE_REACH * self.size
        ys = xs = np.zeros(0, np.int64)
        while True:
            lo_y, hi_y = max(0, by - reach), min(h - self.size, by + reach)
            lo_x, hi_x = max(0, bx - reach), min(w - self.size, bx + reach)
            if hi_y > lo_y and hi_x > lo_x:
                ys = self.rng.integers(lo_y, hi_y, 4 * CANDIDATES)
                xs = self.rng.integers(lo_x, hi_x, 4 * CANDIDATES)
                ok = self._valid(ys, xs)
                ys, xs = ys[ok][:CANDIDATES], xs[ok][:CANDIDATES]
            covers = lo_y == 0 and lo_x == 0 and hi_y >= h - self.size and hi_x >= w - self.size
            if ys.size >= CANDIDATES // 4 or covers:
                break
            reach *= 2
        near_y, near_x = [], []
        for ny, nx in ((by - BLOCK, bx), (by + BLOCK, bx), (by, bx - BLOCK), (by, bx + BLOCK)):
            if (ny, nx) in self.offsets:
                sy, sx = self.offsets[(ny, nx)]
                near_y.append(sy + by - ny)
                near_x.append(sx + bx - nx)
        if near_y:
            ny_a, nx_a = np.array(near_y), np.array(near_x)
            keep = self._valid(ny_a, nx_a)
            ys = np.concatenate([ys, ny_a[keep]])
            xs = np.concatenate([xs, nx_a[keep]])
            return ys, xs, int(keep.sum())
        return ys, xs, 0

    def place(self, by: int, bx: int) -> None:
        """Choose the block's source and feather its detail into the hole."""
        h, w = self.hole.shape
        ys, xs, n_near = self.candidates(by, bx)
        if ys.size == 0:
            return
        # The cheap terms (on the small maps) pick the few random sources worth matching.
        prior = self._prior(ys, xs, by, bx)
        n_random = ys.size - n_near
        if n_random > PRESELECT:
            best = np.argpartition(prior[:n_random], PRESELECT)[:PRESELECT]
            keep = np.concatenate([best, np.arange(n_random, ys.size)])
            ys, xs, prior = ys[keep], xs[keep], prior[keep]
        y0, x0 = max(0, by), max(0, bx)
        y1, x1 = min(h, by + self.size), min(w, bx + self.size)
        box = (slice(y0, y1), slice(x0, x1))
        oy, ox = y0 - by, x0 - bx
        rows, cols = slice(oy, oy + y1 - y0), slice(ox, ox + x1 - x0)
        # Candidates are compared on every other pixel each way: a quarter of the work, and
        # at DETAIL_SIGMA ≥ 2 px the detail is smooth enough for that.
        ry, rx = slice(oy, oy + y1 - y0, MATCH_STRIDE), slice(ox, ox + x1 - x0, MATCH_STRIDE)
        cand = np.moveaxis(
            self.win_s[ys, xs, :, ry, rx].astype(np.float32) - self.win_low[ys, xs, :, ry, rx],
            1,
            -1,
        )
        cost = prior + self._mismatch(cand, box)
        if n_near:
            cost[-n_near:] *= COHERENCE
        k = int(np.argmin(cost))
        sy, sx = int(ys[k]), int(xs[k])
        self.offsets[(by, bx)] = (sy, sx)
        block = (
            self.win_s[sy, sx, :, rows, cols].astype(np.float32)
            - self.win_low[sy, sx, :, rows, cols]
        )
        self._feather(np.moveaxis(block, 0, -1), box, oy, ox)

    def _mismatch(self, cand: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
        """How far each candidate's detail is from what the block's place already holds."""
        st = MATCH_STRIDE
        local = self._local(box)
        known, placed = self.known[box][::st, ::st], self.placed[local][::st, ::st]
        have = known | placed
        n = int(have.sum())
        if not n:
            return np.zeros(len(cand), np.float32)
        target = np.where(
            known[..., None],
            self.s[box][::st, ::st].astype(np.float32) - self.low[box][::st, ::st],
            self.detail[local][::st, ::st],
        )
        diff = cand[:, have] - target[have][None]
        out: np.ndarray = np.einsum("knc,knc->k", diff, diff) / n
        return out

    def _prior(self, ys: np.ndarray, xs: np.ndarray, by: int, bx: int) -> np.ndarray:
        """The structure guide's mismatch and the energy penalty of each source, from the
        reduced maps."""
        g = GUIDE_STEP
        gh, gw = self.guide.shape[:2]
        side = self.size // g
        cost = np.zeros(len(ys), np.float32)
        ty, tx = min(max(0, by // g), gh - side), min(max(0, bx // g), gw - side)
        want = self.guide[ty : ty + side, tx : tx + side]
        if want.shape[:2] == (side, side):
            win = sliding_window_view(self.guide, (side, side), axis=(0, 1))
            gy = np.minimum(ys // g, win.shape[0] - 1)
            gx = np.minimum(xs // g, win.shape[1] - 1)
            got = np.moveaxis(win[gy, gx], 1, -1)
            diff = got - want[None]
            cost += GUIDE_WEIGHT * np.einsum("kyxc,kyxc->k", diff, diff) / (side * side)
        half = self.size // 2
        cy = min(gh - 1, max(0, (by + half) // g))
        cx = min(gw - 1, max(0, (bx + half) // g))
        expected = float(self.energy[cy, cx])
        energy = self.block_energy[
            np.minimum((ys + half) // g, gh - 1), np.minimum((xs + half) // g, gw - 1)
        ]
        ratio = np.log((energy + 1.0) / (expected + 1.0))
        # Too much detail (an edge, an eye brought along) is worse than too little.
        weight = np.where(ratio > 0, TOO_BUSY * ENERGY_WEIGHT, ENERGY_WEIGHT)
        cost += weight * (expected + 1.0) * ratio * ratio
        return cost

    def _feather(self, block: np.ndarray, box: tuple[slice, slice], oy: int, ox: int) -> None:
        """Write `block` into the hole's pixels of `box`; where detail was placed before, cross
        over linearly within the overlap so no seam shows."""
        p = self.size
        ramp = np.minimum(1.0, (np.minimum(np.arange(p), np.arange(p)[::-1]) + 0.5) / OVERLAP)
        weight = np.outer(ramp, ramp).astype(np.float32)
        hh, ww = block.shape[:2]
        weight = weight[oy : oy + hh, ox : ox + ww]
        local = self._local(box)
        hole, placed = self.hole[box], self.placed[local]
        weight = np.where(placed, weight, 1.0)[..., None]
        old = self.detail[local]
        new = np.where(hole[..., None], old * (1 - weight) + block * weight, old)
        self.detail[local] = new
        self.placed[local] = placed | hole

    def values(self) -> np.ndarray:
        """The hole's new values (n × bands, float32): the structure's low-pass plus the
        quilted detail (computed in place: for a torn corner these are millions of values)."""
        hole = self.hole[self.area]
        out: np.ndarray = self.detail[hole]
        out += self.low[self.area][hole]
        return out


def _extent(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and the columns that have a True in them (cheaper than every pixel's place)."""
    return np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))


def fill_hole(crop: np.ndarray, hole: np.ndarray, damaged: np.ndarray, seed: int = 0) -> np.ndarray:
    """`crop` (H×W or H×W×C, uint8, uint16 or float32) with `hole` rebuilt: structure diffused
    in, detail quilted from the undamaged pixels. `damaged` (⊇ hole) is never used as a source;
    its pixels outside `hole` come back diffused only."""
    s = structure.diffused(crop, damaged, int(hole.sum()))
    if min(crop.shape[:2]) < BLOCK + 2 * OVERLAP + 1 or not hole.any():
        return s
    quilt = _Quilt(s, hole, damaged, seed)
    for by, bx in quilt.blocks():
        quilt.place(by, bx)
    values = quilt.values()
    del quilt.detail
    if crop.dtype != np.float32:
        info = np.iinfo(crop.dtype)
        np.clip(np.rint(values, out=values), info.min, info.max, out=values)
    out = quilt.s
    out[hole] = values
    return out.reshape(crop.shape)
