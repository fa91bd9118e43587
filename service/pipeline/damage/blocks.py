"""Grids of a reduced copy drawn at the scan's size.

The damage package works on reduced grids in several places (the fill's cells, the pyramid's
levels, the strongest contrast per block when a band is narrowed): each cell stands for
`factor` × `factor` scan pixels counted from the scan's origin, and is read back over a box of
scan pixels by repeating it.
"""

from __future__ import annotations

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in scan pixels


def at_scan_size(grid: np.ndarray, factor: int, box: Box) -> np.ndarray:
    """`grid` (one cell per `factor` × `factor` scan pixels) as scan pixels over `box`."""
    x0, y0, x1, y1 = box
    cy0, cx0 = y0 // factor, x0 // factor
    sub = grid[cy0 : -(-y1 // factor), cx0 : -(-x1 // factor)]
    full = np.repeat(np.repeat(sub, factor, axis=0), factor, axis=1)
    dy, dx = y0 - cy0 * factor, x0 - cx0 * factor
    out: np.ndarray = full[dy : dy + y1 - y0, dx : dx + x1 - x0]
    return out
