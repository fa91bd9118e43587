"""Regular textures made for the tests: what the pattern-aware fill and detector are for."""

from __future__ import annotations

import math

import numpy as np


def twill(shape: tuple[int, int] = (400, 520), angle: float = 20.0) -> np.ndarray:
    """A cloth turned `angle` degrees: threads 6 and 7 pixels apart, each going over and under
    the other in a twill's steps, lit unevenly, with a scanner's noise (RGB uint8)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = math.radians(angle)
    u, v = xx * math.cos(t) + yy * math.sin(t), -xx * math.sin(t) + yy * math.cos(t)
    warp, weft = np.cos(2 * np.pi * u / 6.0), np.cos(2 * np.pi * v / 7.0)
    over = np.floor(u / 6.0) + np.floor(v / 7.0)
    grey = 110 + 50 * np.where(over % 3 == 0, warp, weft)
    grey *= 0.8 + 0.2 * np.cos(xx / 110) * np.cos(yy / 80)
    grey += np.random.default_rng(0).normal(0, 3, grey.shape)
    rgb = np.stack([grey * 1.05, grey * 0.8, grey * 0.6], axis=2)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def lattice(shape: tuple[int, int] = (300, 400)) -> np.ndarray:
    """A paper screen of bars 13 px apart over the left part, ending at a wide dark post, a
    plain wall beyond (grey uint8): a pattern that stops, where nothing is damaged."""
    h, w = shape
    xx = np.mgrid[0:h, 0:w][1].astype(np.float32)
    grey = np.where(np.cos(2 * np.pi * xx / 13.0) > 0.6, 90.0, 200.0)
    grey[:, int(0.6 * w) :] = 150.0
    grey[:, int(0.6 * w) : int(0.6 * w) + 20] = 70.0
    grey += np.random.default_rng(2).normal(0, 3, grey.shape)
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
