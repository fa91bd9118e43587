"""Narrowing damage found on a reduced copy down to the pixels that show it at full size.

Damage is judged where it has the width the detectors know (a crack a few pixels across, a
speck of one to four): on a 600-dpi scan that is a copy reduced several times. Scaled back up,
what was found there is a band `factor` pixels coarse, wider than the crack itself; filled as it
is, the fill would rebuild good picture beside the crack and take the slow road of holes.

So each band is narrowed at full size. The picture just around the band (a ring outside it, on
the reduced copy) gives the level the pixels would have without the damage; a band pixel stays
damage when it stands out from that level clearly (above the noise) and by a good share of what
the damage's core does nearby: its soft rim is kept, the good picture beside it is not.
"""

from __future__ import annotations

import cv2
import numpy as np

from service.pipeline.damage import blocks

FLOOR = 10  # grey levels a pixel must stand out from the picture around, at least
NOISE_FLOOR = 3.0  # …and this many times the scan's noise
PEAK_SHARE = 0.3  # of the strongest contrast nearby: the rim of a crack, not the paper beside it
REACH = 6  # reduced pixels either side over which the ring around a band is averaged


def margin(factor: int) -> int:
    """Rows of context a strip needs on either side for `narrowed` to be exact."""
    return 2 * factor + 2


def around(grey: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """On the reduced copy `grey` (uint8), the level of the picture around the damage `mask`
    (bool, already grown by a pixel): the mean of the ring just outside it, within REACH.
    uint8; where no ring is in reach, 0 (such pixels are left to `narrowed`'s floor)."""
    ring = (cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~mask
    box = (2 * REACH + 1, 2 * REACH + 1)
    ring_f = ring.astype(np.float32)
    total = cv2.boxFilter(grey.astype(np.float32) * ring_f, -1, box, normalize=False)
    count = cv2.boxFilter(ring_f, -1, box, normalize=False)
    level = np.where(count > 0, total / np.maximum(count, 1.0), 0.0)
    return np.clip(np.rint(level), 0, 255).astype(np.uint8)


def narrowed(
    grey: np.ndarray, band: np.ndarray, level: np.ndarray, factor: int, noise: float
) -> np.ndarray:
    """The pixels of `band` (bool, damage found on a copy reduced by `factor` and scaled back
    up) that stand out in `grey` (uint8, full size) from `level` (`around`, scaled up to the
    same pixels)."""
    if factor <= 1 or not band.any():
        return band.copy()
    contrast = cv2.absdiff(grey, level)
    contrast[~band] = 0
    # The strongest contrast within a reduced pixel or two: per block of factor × factor
    # scan pixels, then over the blocks around.
    h, w = contrast.shape
    bh, bw = -(-h // factor), -(-w // factor)
    padded = np.zeros((bh * factor, bw * factor), np.uint8)
    padded[:h, :w] = contrast
    peak = padded.reshape(bh, factor, bw, factor).max(axis=(1, 3))
    peak = cv2.dilate(peak, np.ones((3, 3), np.uint8))
    near = blocks.at_scan_size(peak, factor, (0, 0, w, h))
    need = np.maximum(
        np.uint8(min(255, max(FLOOR, round(NOISE_FLOOR * noise)))),
        cv2.convertScaleAbs(near, alpha=PEAK_SHARE),
    )
    core = (contrast >= need) & band
    out: np.ndarray = (cv2.dilate(core.view(np.uint8), np.ones((3, 3), np.uint8)) > 0) & band
    return out
