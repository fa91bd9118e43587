"""The scan at the sizes the merge looks at it: made once, shared by every low-resolution step.

A 45-megapixel scan is read in full twice by the merge, once here and once by the full-size
pass. Everything between (alignment, tone fit, repairs, grain, the face check) works on the
views made here, so none of them reduces, greys or blurs the scan again:

    grid    the scan box-reduced by a whole step k: every cell is the mean of a k×k block, its
            centre on the scan's own pixel grid. The full-size pass enlarges its low-band
            fields from this grid by exactly k, which is what keeps its strips seamless.
    small   the grid at the plan size (the answer's pixel count with the scan's aspect), what
            the model was shown, more or less
    grey    small's luminance; `grey_at(side)` the same no larger than `side` (alignment and
            faces look at 512 px)
    bands   a few full-resolution grey rows spread over the scan, two grid rows each: what a
            reduction averages away (grain, fine texture), measured where it is
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from service.pipeline.ops._common import reduced

BANDS = 48
MIN_STEP = 2  # a grid as fine as the scan would cost a full-size copy per field


def colour_bands(a: np.ndarray, mode: str) -> np.ndarray:
    """H×W×S uint8 colour bands of an image array of `mode` (alpha dropped)."""
    if a.ndim == 2:
        return a[:, :, None]
    return a[:, :, :1] if mode == "LA" else a[:, :, :3]


def luma(a: np.ndarray) -> np.ndarray:
    """The mean of the channels of an h×w×C array as h×w float32 (C = 1: the channel)."""
    if a.ndim == 2:
        return a.astype(np.float32, copy=False)
    if a.shape[2] == 1:
        return np.ascontiguousarray(a[:, :, 0], dtype=np.float32)
    weights = np.full((1, a.shape[2]), 1.0 / a.shape[2], np.float32)
    out: np.ndarray = cv2.transform(a.astype(np.float32, copy=False), weights)
    return out.reshape(a.shape[:2])


def grey_of(a: np.ndarray, mode: str) -> np.ndarray:
    """The luminance (Rec. 601, as Pillow's "L") of an image array of `mode`, uint8 H×W."""
    if a.ndim == 2:
        return a
    if mode == "LA" or a.shape[2] == 1:
        return np.ascontiguousarray(a[:, :, 0])
    code = cv2.COLOR_RGBA2GRAY if a.shape[2] == 4 else cv2.COLOR_RGB2GRAY
    out: np.ndarray = cv2.cvtColor(np.ascontiguousarray(a), code)
    return out


def read_grey(scan: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    """The luminance (Rec. 601) of a region of the scan as uint8: Pillow converts from its own
    4-byte layout, without unpacking the colour bands first (several times cheaper)."""
    part = scan.crop(box)
    grey = part.getchannel(0) if scan.mode == "LA" else part.convert("L")
    return np.asarray(grey)


def step(scan_size: tuple[int, int], plan_size: tuple[int, int]) -> int:
    """The grid's step: the largest whole reduction that is still at least the plan's size."""
    f = min(scan_size[0] / plan_size[0], scan_size[1] / plan_size[1])
    return max(MIN_STEP, math.floor(f))


@dataclass
class Views:
    """See the module docstring."""

    k: int
    grid: np.ndarray  # gh×gw×S uint8
    small: np.ndarray  # h×w×S uint8
    grey: np.ndarray  # h×w uint8
    bands: np.ndarray  # n×2k×W uint8, full-resolution grey
    band_rows: np.ndarray  # the grid row each band starts at (n,)
    _sizes: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def plan_size(self) -> tuple[int, int]:
        """(w, h) of `small`."""
        return int(self.small.shape[1]), int(self.small.shape[0])

    def grey_at(self, side: int) -> np.ndarray:
        """`grey` as float32, reduced to no more than `side` pixels a side (made once)."""
        if side not in self._sizes:
            self._sizes[side] = shrink_to(self.grey.astype(np.float32), side)
        return self._sizes[side]


def shrink_to(a: np.ndarray, side: int) -> np.ndarray:
    """`a` reduced (area-averaged) to no more than `side` pixels a side, aspect kept."""
    h, w = a.shape[:2]
    f = min(1.0, side / max(h, w))
    if f == 1.0:
        return a
    size = (max(8, round(w * f)), max(8, round(h * f)))
    out: np.ndarray = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    return out


def look(scan: Image.Image, plan_size: tuple[int, int]) -> Views:
    """The views of `scan` for a plan of `plan_size`; one reduction of the whole scan."""
    k = step(scan.size, plan_size)
    reduced_scan = reduced(scan, k)
    grid = colour_bands(np.asarray(reduced_scan), scan.mode)
    # The last cells hold fewer than k scan pixels: the plan covers W/k cells, not all of them.
    region = (0.0, 0.0, scan.width / k, scan.height / k)
    if region[2:] == plan_size:
        small = grid
    else:
        shrunk = reduced_scan.resize(plan_size, Image.Resampling.LANCZOS, box=region)
        small = colour_bands(np.asarray(shrunk), scan.mode)
    del reduced_scan
    rows, bands = sample_bands(scan, k, grid.shape[0])
    return Views(k, grid, small, grey_of(small, "RGB" if small.shape[2] == 3 else "L"), bands, rows)


def sample_bands(scan: Image.Image, k: int, grid_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spread full-resolution grey bands, two whole grid rows each."""
    n = max(1, min(BANDS, grid_rows // 2))
    last = max(0, min(grid_rows, scan.height // k) - 2)
    starts = np.unique(np.linspace(0, last, n).round().astype(np.int64))
    out = np.zeros((len(starts), 2 * k, scan.width), np.uint8)
    for i, r in enumerate(starts):
        y0 = int(r) * k
        grey = read_grey(scan, (0, y0, scan.width, min(scan.height, y0 + 2 * k)))
        out[i, : grey.shape[0]] = grey
    return starts, out


def block_spread(bands: np.ndarray, k: int) -> np.ndarray:
    """The luminance spread inside each grid cell of the bands (n×2×gw float32, grey levels):
    what the grid, and the answer, cannot show."""
    n, rows, width = bands.shape
    cols = width // k
    if cols == 0:
        return np.zeros((n, 2, 1), np.float32)
    levels = bands[:, :, : cols * k].reshape(n * rows, cols * k).astype(np.float32)
    cells = (cols, n * rows // k)
    mean = cv2.resize(levels, cells, interpolation=cv2.INTER_AREA)
    square = cv2.resize(levels * levels, cells, interpolation=cv2.INTER_AREA)
    spread: np.ndarray = np.sqrt(np.maximum(square - mean * mean, 0))
    return spread.reshape(n, 2, cols)


def white_noise(bands: np.ndarray) -> float:
    """Pixel noise sigma in grey levels: the median absolute response of a Laplacian-like
    kernel of unit gain for white noise (the median ignores the minority of edges)."""
    n, rows, width = bands.shape
    if rows < 3 or width < 3:
        return 0.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)  # 6 × unit gain
    response = cv2.filter2D(bands.reshape(n * rows, width), cv2.CV_16S, kernel)
    inner = response.reshape(n, rows, width)[:, 1:-1, 1:-1]  # rows of one band only
    # An eighth of the responses is plenty; they are whole numbers, so the median is read
    # from their histogram with interpolation (a plain median of a faint grain jumps by 25 %).
    counts = np.bincount(np.abs(inner[:, ::2, ::4]).ravel())
    return grouped_median(counts) / (6.0 * 0.6745)


def grouped_median(counts: np.ndarray) -> float:
    """The median of whole-number values given by their counts, interpolated within its bin."""
    total = float(counts.sum())
    if total == 0:
        return 0.0
    below = np.cumsum(counts) - counts  # how many lie below each value
    m = int(np.searchsorted(np.cumsum(counts), total / 2))
    return max(0.0, m - 0.5 + (total / 2 - float(below[m])) / max(float(counts[m]), 1.0))
