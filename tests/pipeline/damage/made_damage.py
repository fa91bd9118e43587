"""Damage made on purpose over clean pictures: cracks, scratches, holes, torn corners and edges.

Each maker returns a boolean mask (True = damaged) of the picture's (h, w); `lay` paints the
mask over the clean picture the way a damaged print shows it (paper white where the emulsion
is gone, or dark), with the paper's own faint grain, so the detectors and the fill see what a
scan shows.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

PAPER = 242.0


def crack(rng: np.random.Generator, shape: tuple[int, int], width: int = 3) -> np.ndarray:
    """A branching crack: a wandering line across the picture with a few side branches."""
    h, w = shape
    out = np.zeros(shape, np.uint8)
    y, x = float(rng.uniform(0, h)), 0.0
    heading = float(rng.uniform(-0.5, 0.5))
    trunk = [(x, y)]
    step = max(4.0, min(h, w) / 60)
    while 0 <= x < w and 0 <= y < h:
        heading += float(rng.normal(0, 0.35))
        heading = max(-1.2, min(1.2, heading))
        x, y = x + step * math.cos(heading), y + step * math.sin(heading)
        trunk.append((x, y))
    cv2.polylines(out, [np.int32(trunk)], False, 1, width)
    for _ in range(int(rng.integers(2, 5))):
        bx, by = trunk[int(rng.integers(1, len(trunk)))]
        a = heading + float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.6, 1.4))
        pts = [(bx, by)]
        for _ in range(int(rng.integers(4, 14))):
            a += float(rng.normal(0, 0.3))
            bx, by = bx + step * math.cos(a), by + step * math.sin(a)
            pts.append((bx, by))
        cv2.polylines(out, [np.int32(pts)], False, 1, max(1, width - 1))
    return out.astype(bool)


def scratch(rng: np.random.Generator, shape: tuple[int, int], width: int = 2) -> np.ndarray:
    """A long, nearly straight scratch (a gentle bow), as a print dragged over grit shows."""
    h, w = shape
    out = np.zeros(shape, np.uint8)
    x0, x1 = rng.uniform(0, w, 2)
    t = np.linspace(0, 1, 50)
    bow = float(rng.uniform(-0.03, 0.03)) * h
    xs = x0 + (x1 - x0) * t + bow * np.sin(math.pi * t)
    ys = t * h
    cv2.polylines(out, [np.int32(np.stack([xs, ys], 1))], False, 1, width)
    return out.astype(bool)


def _ragged(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, depth: int) -> list:
    """Points from a to b with a fractal (midpoint-displaced) path between: a torn edge."""
    if depth == 0:
        return [a]
    mid = (a + b) / 2
    normal = np.array([-(b - a)[1], (b - a)[0]])
    mid = mid + normal * float(rng.normal(0, 0.12))
    return _ragged(rng, a, mid, depth - 1) + _ragged(rng, mid, b, depth - 1)


def torn_corner(
    rng: np.random.Generator, shape: tuple[int, int], share: float = 0.25, corner: int = 0
) -> np.ndarray:
    """A missing corner: the paper torn off along a ragged line from one edge to the next.

    `share` is the tear's reach along each edge as a share of the shorter side; `corner`
    0..3 is top-left, top-right, bottom-right, bottom-left.
    """
    h, w = shape
    reach = share * min(h, w)
    a = np.array([reach * rng.uniform(0.7, 1.3), 0.0])
    b = np.array([0.0, reach * rng.uniform(0.7, 1.3)])
    path = [*_ragged(rng, a, b, 6), b]
    poly = np.array([[-2.0, -2.0], *path])
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.int32(np.rint(poly))], 1)
    return _flip(out, x=corner in (1, 2), y=corner in (2, 3)).astype(bool)


def _flip(m: np.ndarray, *, x: bool = False, y: bool = False) -> np.ndarray:
    """The corner mask `m` (made at the top-left) moved to another corner."""
    out = m
    if x:
        out = out[:, ::-1]
    if y:
        out = out[::-1]
    return np.ascontiguousarray(out)


def torn_edge(rng: np.random.Generator, shape: tuple[int, int], share: float = 0.2) -> np.ndarray:
    """A bite out of the top edge: paper torn away between two points with a ragged outline."""
    h, w = shape
    x0 = rng.uniform(0.15, 0.5) * w
    x1 = x0 + share * w * rng.uniform(0.8, 1.4)
    depth = share * min(h, w) * rng.uniform(0.5, 0.9)
    a, b = np.array([x0, 0.0]), np.array([x1, 0.0])
    mid = np.array([(x0 + x1) / 2, depth])
    path = _ragged(rng, a, mid, 5) + _ragged(rng, mid, b, 5) + [b]
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.int32(np.rint(np.array([[x0, -2.0], *path, [x1, -2.0]])))], 1)
    return out.astype(bool)


def hole(rng: np.random.Generator, shape: tuple[int, int], radius: float) -> np.ndarray:
    """A missing patch inside the picture: an irregular blob of about `radius` pixels."""
    h, w = shape
    cy, cx = (
        rng.uniform(radius * 1.5, h - radius * 1.5),
        rng.uniform(radius * 1.5, w - radius * 1.5),
    )
    angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    radii = radius * rng.uniform(0.7, 1.2, angles.size)
    poly = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.int32(np.rint(poly))], 1)
    return out.astype(bool)


def lay(
    clean: Image.Image,
    mask: np.ndarray,
    rng: np.random.Generator,
    *,
    tone: float = PAPER,
    tint: tuple[float, float, float] = (1.0, 0.99, 0.95),
) -> Image.Image:
    """`clean` with the masked pixels turned to paper (`tone`, slightly warm) with faint grain."""
    a = np.asarray(clean).astype(np.float32)
    n = int(mask.sum())
    paper = tone + rng.normal(0, 2.0, n)
    if a.ndim == 3:
        bands = a.shape[2]
        colour = np.array(tint[:bands] + (1.0,) * max(0, bands - 3), np.float32)
        values = paper[:, None] * colour[None, :]
        if bands in (2, 4):  # alpha stays as it was
            values[:, -1] = a[mask][:, -1]
        a[mask] = values
    else:
        a[mask] = paper
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), clean.mode)
