"""The print's own edges against the scanner bed: the only evidence framing acts on.

A scanner bed (the lid, or the dark of an open lid) is a flat field of one tone that reaches the
scan's outer frame; the print lies on it. Where the bed ends, the print begins, along a straight
line: the paper's cut edge. So, on a grey thumbnail:

1. the bed's tone is the median of the outermost frame, accepted only when most of the frame
   is that tone (within the noise);
2. the bed is every pixel of that tone connected to the frame;
3. on each side, the depth the bed reaches inward, column by column (or row by row), are the
   edge points; a robust line through them (RANSAC, then least squares on the inliers) is the
   print's edge when it is straight, spans enough of the side and stays within the skew range,
   and the picture does not itself reach the scan's edge along much of that side;
4. at least two sides must agree on the print's angle;
5. everything beyond the cuts must be bed: the bed surrounds a print, while a building against
   a clear sky, straight-sided too, stands on ground that reaches the frame.

Lines inside the picture (a horizon, a door frame, a scratch or a crack) never enter: only
the bed's own boundary is measured. A torn corner, white but ragged and short, fits no line
along most of a side. A photo with no bed gives None, and framing hands it back untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

BED_TOL = 14.0  # grey levels: the widest a bed's tone may spread (JPEG noise, uneven lid light)
BED_MIN_TOL = 6.0
BED_FRAME_SHARE = 0.6  # share of the outer frame that must be the bed's tone
MAX_DEPTH = 0.4  # a bed reaching deeper than this share of the scan is not a bed
MIN_STRAIGHT = 0.7  # share of the side's bed-to-print points that must lie on one straight cut
MIN_SPAN = 0.25  # …spread over at least this share of the side (a print may be small on a bed)
MAX_DEEP_SHARE = 0.75  # share of a side where the bed runs deep: past the print's ends or corners
MIN_BED_AROUND = 0.97  # share of the scan beyond the cuts that must be bed
RIM = 2.0  # thumbnail pixels on either side of a cut that belong to neither (the soft edge)
MAX_TOUCH_SHARE = 0.15  # share of a side where the picture itself reaches the scan's edge
MAX_BED_NOISE = 4.5  # grey levels (robust σ on the thumbnail): a lid is flat, a sky is not quite
LINE_TOL = 2.0  # thumbnail pixels: how far an edge point may lie from a straight cut (JPEG rings)
MAX_ANGLE = 10.0  # degrees: beyond this a line is no print edge we straighten
ANGLE_AGREE = 0.5  # degrees: the sides of one rectangular print agree this well
SOLID_RUN = 4  # pixels of print in a row that mark where the print begins
SIDES = ("top", "bottom", "left", "right")


@dataclass(frozen=True)
class Edge:
    """One side's cut: across = a + b·along (along = x for top/bottom, y for left/right)."""

    side: str
    a: float
    b: float
    span: tuple[float, float]  # where along the side the cut was seen: about the print's corners

    @property
    def degrees(self) -> float:
        """The print's counter-clockwise rotation this edge says."""
        slope = math.degrees(math.atan(self.b))
        return -slope if self.side in ("top", "bottom") else slope

    def across(self, along: float) -> float:
        """The edge's position across the side at `along`."""
        return self.a + self.b * along


@dataclass(frozen=True)
class PrintEdges:
    """The print's found edges (two to four) in thumbnail pixels, and its angle."""

    edges: dict[str, Edge]
    degrees: float
    size: tuple[int, int]  # the thumbnail's width and height


def bed_tone(g: np.ndarray) -> tuple[float, float] | None:
    """The bed's tone and tolerance, when the scan's outer frame is mostly one flat tone."""
    frame = np.concatenate([g[:2].ravel(), g[-2:].ravel(), g[:, :2].ravel(), g[:, -2:].ravel()])
    value = float(np.median(frame))
    near = np.abs(frame - value) < BED_TOL
    if np.mean(near) < BED_FRAME_SHARE:
        return None
    spread = 1.4826 * float(np.median(np.abs(frame[near] - value)))
    if spread > MAX_BED_NOISE:
        return None
    return value, float(np.clip(5.0 * spread, BED_MIN_TOL, BED_TOL))


def bed_mask(g: np.ndarray, value: float, tol: float) -> np.ndarray:
    """Pixels of the bed's tone connected to the scan's outer frame."""
    near = (np.abs(g - value) < tol).astype(np.uint8)
    _, labels = cv2.connectedComponents(near, connectivity=4)
    frame = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    keep = np.unique(frame[frame > 0])
    return np.isin(labels, keep)


def _depths(bed: np.ndarray) -> np.ndarray:
    """How deep the bed reaches into each column: the first row from which the print runs
    on for SOLID_RUN rows. A few pixels off the bed's tone just before the cut (JPEG ringing,
    the print's soft rim) do not end it early."""
    solid = ~bed
    for k in range(1, SOLID_RUN):
        solid[:-k] &= ~bed[k:]
    first_print = np.argmax(solid, axis=0)
    depth: np.ndarray = np.where(solid.any(axis=0), first_print, bed.shape[0])
    return depth


def _side_depths(bed: np.ndarray, side: str) -> np.ndarray:
    """Per position along `side`, how deep the bed reaches (from the far edge for bottom/right:
    `_edge` converts back)."""
    view = {"top": bed, "bottom": bed[::-1], "left": bed.T, "right": bed.T[::-1]}[side]
    return _depths(view)


def _fit(along: np.ndarray, across: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """A robust straight line through the points: (a, b, inlier mask), or None."""
    n = along.size
    if n < 8:
        return None
    rng = np.random.default_rng(0)  # deterministic: the same scan always gives the same crop
    best: np.ndarray | None = None
    for _ in range(64):
        i, j = rng.choice(n, 2, replace=False)
        if along[i] == along[j]:
            continue
        b = (across[j] - across[i]) / (along[j] - along[i])
        inliers = np.abs(across - (across[i] + b * (along - along[i]))) <= LINE_TOL
        if best is None or np.count_nonzero(inliers) > np.count_nonzero(best):
            best = inliers
    if best is None or np.count_nonzero(best) < 8:
        return None
    for _ in range(2):  # least squares on the inliers, then the inliers of that line
        b, a = np.polyfit(along[best], across[best], 1)
        best = np.abs(across - (a + b * along)) <= LINE_TOL
    b, a = np.polyfit(along[best], across[best], 1)
    return float(a), float(b), best


def _edge(bed: np.ndarray, side: str) -> Edge | None:
    """The straight cut between bed and print on one side, or None."""
    h, w = bed.shape
    length, depth_limit = (w, h) if side in ("top", "bottom") else (h, w)
    depth = _side_depths(bed, side)
    deep = depth > MAX_DEPTH * depth_limit
    if np.mean(deep) > MAX_DEEP_SHARE:
        return None  # the "bed" floods into the picture: a sky or a wall, not a lid
    if np.mean(depth == 0) > MAX_TOUCH_SHARE:
        return None  # the picture meets the scan's edge along this side: no bed runs there
    ok = (depth >= 1) & ~deep
    along = np.flatnonzero(ok).astype(np.float64)
    across = depth[ok].astype(np.float64)
    fit = _fit(along, across)
    if fit is None:
        return None
    a, b, inliers = fit
    found = along[inliers]
    if found.size < MIN_STRAIGHT * along.size or np.ptp(found) < MIN_SPAN * length:
        return None
    if abs(math.degrees(math.atan(b))) > MAX_ANGLE:
        return None
    if side in ("bottom", "right"):  # measured from the far edge: back to image coordinates
        a, b = depth_limit - a, -b
    return Edge(side, a, b, (float(found.min()), float(found.max())))


def find_print(g: np.ndarray) -> PrintEdges | None:
    """The print's edges against a flat scanner bed in the grey thumbnail `g`, or None."""
    tone = bed_tone(g)
    if tone is None:
        return None
    bed = bed_mask(g, *tone)
    edges = {s: e for s in SIDES if (e := _edge(bed, s)) is not None}
    if len(edges) < 2:
        return None
    angles = np.array([e.degrees for e in edges.values()])
    middle = float(np.median(angles))
    agree = {s: e for s, e in edges.items() if abs(e.degrees - middle) <= ANGLE_AGREE}
    if len(agree) < 2:
        return None
    if not surrounded(bed, agree):
        return None
    degrees = float(np.mean([e.degrees for e in agree.values()]))
    h, w = g.shape
    return PrintEdges(agree, degrees, (w, h))


def surrounded(bed: np.ndarray, edges: dict[str, Edge]) -> bool:
    """Whether the bed lies all around the print the edges describe: everything beyond a cut
    (off the print's side, past the soft rim) is bed. A building against a clear sky has
    straight sides too, but the ground it stands on is beyond them."""
    h, w = bed.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    outside = np.zeros((h, w), bool)
    for side, edge in edges.items():
        along, across = (xs, ys) if side in ("top", "bottom") else (ys, xs)
        line = edge.a + edge.b * along
        beyond = across < line - RIM if side in ("top", "left") else across > line + RIM
        outside |= beyond
    if np.count_nonzero(outside) == 0:
        return False
    return float(np.mean(bed[outside])) >= MIN_BED_AROUND
