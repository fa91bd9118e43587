"""Running a model on overlapping tiles, for more of the model's own resolution on large scans.

`tiles = N` on a model step cuts the scan into an N×N grid of tiles that overlap by an eighth
of a tile, sends each at the model's `max_pixels`, and blends the answers back into one picture
N times as large (in each direction) as a single call's. Each answer is aligned onto the tile it
answers (`align`): a tile the model moved or re-framed is replaced by the scan's own pixels and
the step asks for review. Models render each call's tone a little differently, so every tile
gets a per-band offset that best agrees with its neighbours where they overlap (least squares),
and the overlaps are cross-faded linearly: no seam, no step in tone at a tile's edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from service.config.specs import MAX_TILES
from service.pipeline import align, findings

OVERLAP = 0.125  # of a tile's side, on each inner edge


@dataclass(frozen=True)
class Tile:
    """One tile: its box in the scan (x0, y0, x1, y1) and its place in the grid."""

    box: tuple[int, int, int, int]
    row: int
    col: int


def grid(size: tuple[int, int], n: int) -> list[Tile]:
    """The N×N overlapping tiles covering a picture of `size`."""
    if not 1 <= n <= MAX_TILES:
        raise ValueError(f"tiles must be between 1 and {MAX_TILES}, got {n}")
    w, h = size
    out = []
    for row in range(n):
        for col in range(n):
            x0, x1 = w * col // n, w * (col + 1) // n
            y0, y1 = h * row // n, h * (row + 1) // n
            ox, oy = math.ceil(OVERLAP * w / n), math.ceil(OVERLAP * h / n)
            box = (max(0, x0 - ox), max(0, y0 - oy), min(w, x1 + ox), min(h, y1 + oy))
            out.append(Tile(box, row, col))
    return out


def _ramp(length: int, lead: int, trail: int) -> np.ndarray:
    """1 inside, rising linearly over `lead` samples at the start, falling over `trail`."""
    r = np.ones(length, np.float32)
    if lead > 0:
        r[:lead] = (np.arange(lead, dtype=np.float32) + 0.5) / lead
    if trail > 0:
        r[length - trail :] = np.minimum(
            r[length - trail :], ((np.arange(trail, dtype=np.float32) + 0.5) / trail)[::-1]
        )
    return r


def _placed(tile: Tile, scale: float) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = tile.box
    return round(x0 * scale), round(y0 * scale), round(x1 * scale), round(y1 * scale)


def _aligned(answer: Image.Image, scan_tile: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """The answer at `size`, its small drift from the tile corrected; the scan where it drifted."""
    a = np.asarray(answer.convert("RGB").resize(size, Image.Resampling.LANCZOS), np.float32)
    s = np.asarray(scan_tile.convert("RGB").resize(size, Image.Resampling.LANCZOS), np.float32)
    drift = align.estimate(s.mean(axis=2), a.mean(axis=2))
    if drift.ok:
        out: np.ndarray = align.warp(a, drift.matrix, size).reshape(size[1], size[0], 3)
        return out
    findings.ask_review("the model moved or reframed a tile; that tile keeps the scan")
    return s


def _offsets(parts: Sequence[np.ndarray], boxes: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
    """Per tile, per band offsets that best agree in every overlap (mean fixed at zero)."""
    n = len(parts)
    rows, rhs = [], []
    for i in range(n):
        for j in range(i + 1, n):
            ax0, ay0, ax1, ay1 = boxes[i]
            bx0, by0, bx1, by1 = boxes[j]
            x0, y0, x1, y1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            a = parts[i][y0 - ay0 : y1 - ay0, x0 - ax0 : x1 - ax0]
            b = parts[j][y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
            row = np.zeros(n)
            row[i], row[j] = 1.0, -1.0
            rows.append(row)
            rhs.append((b - a).reshape(-1, a.shape[2]).mean(axis=0))
    if not rows:
        return np.zeros((n, parts[0].shape[2]))
    rows.append(np.ones(n))  # the offsets add up to zero: the tiles' mean tone is kept
    rhs.append(np.zeros(parts[0].shape[2]))
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    out: np.ndarray = solution
    return out


def blend(
    answers: Sequence[Image.Image], tiles: Sequence[Tile], scan: Image.Image, n: int
) -> Image.Image:
    """One picture from the tiles' answers, at the answers' resolution."""
    scale = float(
        np.median([a.width / (t.box[2] - t.box[0]) for a, t in zip(answers, tiles, strict=True)])
    )
    size = (round(scan.width * scale), round(scan.height * scale))
    boxes = [_placed(t, scale) for t in tiles]
    parts = [
        _aligned(a, scan.crop(t.box), (b[2] - b[0], b[3] - b[1]))
        for a, t, b in zip(answers, tiles, boxes, strict=True)
    ]
    offsets = _offsets(parts, boxes)
    canvas = np.zeros((size[1], size[0], 3), np.float32)
    weight = np.zeros((size[1], size[0]), np.float32)
    for part, box, offset, tile in zip(parts, boxes, offsets, tiles, strict=True):
        x0, y0, x1, y1 = box
        ov_x, ov_y = math.ceil(2 * OVERLAP * size[0] / n), math.ceil(2 * OVERLAP * size[1] / n)
        wx = _ramp(x1 - x0, ov_x if tile.col else 0, ov_x if tile.col < n - 1 else 0)
        wy = _ramp(y1 - y0, ov_y if tile.row else 0, ov_y if tile.row < n - 1 else 0)
        w = wy[:, None] * wx[None, :]
        canvas[y0:y1, x0:x1] += (part + offset) * w[..., None]
        weight[y0:y1, x0:x1] += w
    canvas /= np.maximum(weight, 1e-6)[..., None]
    findings.measure("tiles", {"grid": n, "calls": n * n, "size": list(size)})
    return Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), "RGB")
