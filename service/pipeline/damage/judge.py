"""Judging a found line: is it damage, or the picture's own detail?

The seeds of a line (`lines`) are linked into components, and a component is kept as damage
only when it is long and thin, not wholly within a face (there thin lines are the face's own:
glasses, eyelids, strands of hair), not wider than a line, not one of a family of parallel
straight lines (courses of brick, a tower's members, whiskers), not in the company of many
other line pixels, and not a mesh of closed cells (mortar, a lattice, a weave, letters); a
straight one found by its strength must also run far enough to be a scratch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Scale:
    """One size of line looked for: the top-hat's reach and what a damage line must be."""

    kernel: int  # top-hat square side: lines narrower than this stand out
    low: int  # grey levels of contrast a line pixel needs (grown from seeds)
    high: int  # …and a seed
    min_length: float  # fraction of the picture's short side a damage line spans at least
    max_half_width: float  # pixels from the centre line to the edge, at most
    texture_gain: float  # a seed needs this many times the local mean response
    max_company: float  # fraction of other line pixels around it, beyond which it is detail
    line_spreads: float = 0.0  # robust deviations of line strength a seed needs (0: not used)


COMPANY_RADIUS = 12  # pixels around a line where its "family" would be
FAMILY_STRETCH = 4.0  # major over minor axis: a straight line, whose direction means something
FAMILY_DEGREES = 10.0  # lines this close in direction run parallel
FAMILY_SIZE = 4  # this many parallel straight lines are the picture's structure
MAX_CELLS = 6  # closed loops a crack network may have before it is taken for a mesh of detail
LINK = 1  # pixels: gaps of twice this between seeds of one line are bridged
FACE_MARGIN = 0.1  # of a face box's size: glasses and hair reach a little beyond it
STRAIGHT_LENGTH = 0.4  # of the short side: a straight line found by its strength spans this
COLLINEAR = 3.0  # pixels across: straight pieces this near one another's line are one line
Box = tuple[int, int, int, int]  # x, y, width, height in pixels


def _keep(stats: np.ndarray, scale: Scale, short_side: int) -> np.ndarray:
    """Which components are long and thin (booleans by label)."""
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    span = np.hypot(w, h)
    long = span >= scale.min_length * short_side
    thin = span * span >= 6.0 * area  # elongated, even when branching
    keep: np.ndarray = long & thin
    keep[0] = False
    return keep


def half_widths(labels: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Per label (of `n`), how far its widest point lies from its edge: a line's half width."""
    dist = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, 3)
    widest = np.zeros(n, np.float32)
    np.maximum.at(widest, labels[mask], dist[mask])
    return widest


def _thin_enough(labels: np.ndarray, candidate: np.ndarray, keep: np.ndarray, scale: Scale) -> None:
    """Drop kept components wider than a line (a bright region, not a crack), in place."""
    widest = half_widths(labels, candidate, keep.size)
    keep &= widest <= scale.max_half_width + LINK + 0.5  # the linking widened it by LINK


def _alone(labels: np.ndarray, candidate: np.ndarray, keep: np.ndarray, scale: Scale) -> None:
    """Drop kept components surrounded by many other line pixels (detail), in place."""
    if not keep.any():
        return
    mine = keep[labels]
    others = (candidate & ~mine).view(np.uint8)
    k = 2 * COMPANY_RADIUS + 1
    company = cv2.blur(others * np.uint8(255), (k, k))
    total = np.zeros(keep.size, np.float64)
    count = np.bincount(labels[mine], minlength=keep.size).astype(np.float64)
    np.add.at(total, labels[mine], company[mine])
    mean = total / np.maximum(count, 1) / 255.0
    keep &= mean <= scale.max_company


def _orientations(labels: np.ndarray, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per label, the direction of its main axis (degrees, 0–180) and how elongated it is
    (major over minor axis spread), from its second moments."""
    ys, xs = np.nonzero(mask)
    lab = labels[ys, xs]
    count = np.maximum(np.bincount(lab, minlength=n), 1).astype(np.float64)
    mx, my = np.bincount(lab, xs, n) / count, np.bincount(lab, ys, n) / count
    dx, dy = xs - mx[lab], ys - my[lab]
    cxx, cyy = np.bincount(lab, dx * dx, n) / count, np.bincount(lab, dy * dy, n) / count
    cxy = np.bincount(lab, dx * dy, n) / count
    angle = np.degrees(0.5 * np.arctan2(2 * cxy, cxx - cyy)) % 180.0
    root = np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    major, minor = (cxx + cyy) / 2 + root, np.maximum((cxx + cyy) / 2 - root, 0.25)
    return angle, np.sqrt(major / minor)


Axes = tuple[np.ndarray, np.ndarray]  # per label: `_orientations`' direction and stretch


def _no_family(axes: Axes, keep: np.ndarray) -> None:
    """Drop kept straight lines that have several others running parallel to them, in place:
    courses of brick, the members of a tower, a bundle of whiskers or hair repeat one direction,
    while damage is laid over the picture without regard for it."""
    angle, stretch = axes
    straight = keep & (stretch >= FAMILY_STRETCH)
    idx = np.flatnonzero(straight)
    if idx.size < FAMILY_SIZE:
        return
    turn = np.abs((angle[idx, None] - angle[None, idx] + 90.0) % 180.0 - 90.0)
    siblings = (turn <= FAMILY_DEGREES).sum(axis=1) - 1
    keep[idx[siblings >= FAMILY_SIZE - 1]] = False


def _no_mesh(labels: np.ndarray, keep: np.ndarray) -> None:
    """Drop kept components that enclose many small cells (a lattice, mortar, a weave, a page
    of letters), in place: a crack branches like a tree and closes a loop only now and then."""
    contours, hierarchy = cv2.findContours(
        keep[labels].view(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE
    )
    if hierarchy is None:
        return
    holes = np.zeros(keep.size, np.int64)
    for _, _, _, parent in hierarchy[0]:
        if parent < 0:
            continue
        x, y = contours[parent][0, 0]
        holes[labels[y, x]] += 1
    keep &= holes < MAX_CELLS


def linked_seeds(strong: np.ndarray) -> np.ndarray:
    """Seeds with gaps of up to `2 * LINK` pixels bridged, for labelling: a crack's contrast
    comes and goes along its length, and its pieces are one line."""
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * LINK + 1, 2 * LINK + 1))
    return np.asarray(cv2.dilate(strong.view(np.uint8), se) > 0)


def grown_faces(faces: list[Box]) -> list[tuple[int, int, int, int]]:
    """Face boxes grown by FACE_MARGIN, as (x0, y0, x1, y1) (the far ends may lie beyond the
    picture): the area whose thin lines and dots are the face's own."""
    out = []
    for fx, fy, fw, fh in faces:
        mx, my = round(FACE_MARGIN * fw), round(FACE_MARGIN * fh)
        out.append((max(0, fx - mx), max(0, fy - my), fx + fw + mx, fy + fh + my))
    return out


def _not_within(stats: np.ndarray, keep: np.ndarray, faces: list[Box]) -> None:
    """Drop kept lines that lie wholly within a face, in place: there the thin bright and dark
    lines are the face's own (the rim of glasses, an eyelid, teeth, a strand of hair), and a
    crack across a face runs on beyond it."""
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1, y1 = x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]
    for fx0, fy0, fx1, fy1 in grown_faces(faces):
        keep &= ~((x >= fx0) & (y >= fy0) & (x1 <= fx1) & (y1 <= fy1))


def _long_if_straight(axes: Axes, stats: np.ndarray, keep: np.ndarray, short_side: int) -> None:
    """Drop kept straight lines shorter than `STRAIGHT_LENGTH`, in place: a straight bright
    or dark rod of that size is as often the picture's (a tripod's leg, a mast, a cable) as a
    scratch, and a scratch runs on across much of the print; a crack, jagged, is not held to it."""
    angle, stretch = axes
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    span = np.hypot(w, h)
    idx = np.flatnonzero(keep & (stretch >= FAMILY_STRETCH))
    if idx.size == 0:
        return
    # Pieces of one scratch, parted where the picture crosses it, lie on one line: their spans
    # add up. Pieces side by side (a tripod's legs, a bundle of cables) do not.
    t = np.radians(angle[idx])
    cx = stats[idx, cv2.CC_STAT_LEFT] + w[idx] / 2
    cy = stats[idx, cv2.CC_STAT_TOP] + h[idx] / 2
    turn = np.abs((angle[idx, None] - angle[None, idx] + 90.0) % 180.0 - 90.0)
    dx, dy = cx[None, :] - cx[:, None], cy[None, :] - cy[:, None]
    off = np.abs(dx * np.sin(t)[:, None] - dy * np.cos(t)[:, None])  # across my direction
    one_line = (turn <= FAMILY_DEGREES) & (off <= COLLINEAR)
    total = (one_line * span[idx][None, :]).sum(axis=1)
    keep[idx[total < STRAIGHT_LENGTH * short_side]] = False


def judged(
    seeds: np.ndarray,
    scale: Scale,
    faces: list[Box] | None,
    weak: np.ndarray | None,
    *,
    straight_long: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The seeds linked into lines, labelled, and which labels look like damage (by label):
    long and thin, not a face's own, no family, alone (among `weak` pixels too, when given),
    no mesh — and, with `straight_long`, a straight one long enough to be a scratch."""
    linked = linked_seeds(seeds)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(linked.view(np.uint8))
    short_side = min(seeds.shape)
    keep = _keep(stats, scale, short_side)
    if keep.any() and faces:
        _not_within(stats, keep, faces)
    if keep.any():
        _thin_enough(labels, linked, keep, scale)
    if not keep.any():
        return labels, keep
    axes = _orientations(labels, linked, keep.size)  # for the family and the straight-long tests
    _no_family(axes, keep)
    if keep.any():
        _alone(labels, linked if weak is None else weak | linked, keep, scale)
    if keep.any() and straight_long:
        _long_if_straight(axes, stats, keep, short_side)
    if keep.any():
        _no_mesh(labels, keep)
    return labels, keep


def mesh_region(seeds: np.ndarray) -> np.ndarray:
    """The seeds, linked, that belong to a mesh (many closed cells: mortar, a lattice, a
    weave), as pixels."""
    _, labels = cv2.connectedComponents(linked_seeds(seeds).view(np.uint8))
    every = np.ones(int(labels.max()) + 1, bool)
    every[0] = False
    lone = every.copy()
    _no_mesh(labels, lone)
    out: np.ndarray = (every & ~lone)[labels]
    return out
