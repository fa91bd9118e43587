"""Creases: the line where a print was folded, a lit ridge beside a shadowed trough.

A fold is neither paper-white nor black, and over a busy picture its contrast is no higher than
the picture's own, so the tests that find cracks do not find it. Three things set it apart:

- it is straight (paper folds along a line) and long (it crosses the print);
- across it the picture goes bright-then-dark (or dark-then-bright) the same way all along its
  length, while texture and detail change sign from one pixel to the next, so the signed
  difference across the line, averaged along all of it, cancels for the picture and adds up
  for the fold;
- a few pixels further out the two sides are the same picture again, where an edge of the
  picture (a horizon, a door frame) steps from one level to another.

So for every angle (in half degrees: a fold across 512 pixels drifts two pixels off a row a
degree away from it) the picture is turned to make lines of that angle rows (a Radon transform,
on a copy `WORK_SIDE` pixels large), and each row scores the near difference across it less the
far one. Rows that stand far out from all the others are candidates (enough of them that a
faint fold over brick is among the courses of mortar), and a candidate is a fold
when, along nearly all of it, a narrow bright line and a narrow dark line lie side by side (the
edge of a stripe — mortar, a tripod leg — has only one of them; over busy texture, where both
stand out almost everywhere, it is enough that along most of it they come in one order), when
it does not run along the picture's edge (the print's edge, a scanner border), and when no two
other candidates run parallel to it (courses of brick, the legs of a lattice tower, rows of
text repeat). Over thick texture (grass) the pair drowns along part of the fold; there a
candidate that stands out twice as far as any other line with both a ridge and a trough (in
its profile across, each offset's median along all of it) needs the pair along half of it,
and has no family: what runs beside it is too weak to be the picture's repeated structure.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

WORK_SIDE = 512  # folds are looked for on a copy this large: they are wide enough to stay
ANGLES = 360  # half-degree steps
NEAR, FAR = 2, 10  # pixels from a line where a fold's ridge and trough are, and its sides
MIN_LENGTH = 0.4  # of the picture's short side: a line shorter than this is not a fold
MIN_CONTRAST = 8.0  # grey levels between ridge and trough a fold keeps along its length
MIN_SCORE = 5.0  # robust deviations a fold's row stands above all rows
MAX_FOLDS = 2
CANDIDATES = 24  # strongest lines checked for a fold's ridge and trough
PAIR_REACH = 4  # pixels either side of the line where its ridge and trough are looked for
PAIR_CONTRAST = 10  # grey levels each of them stands out, at least
BUSY_WINDOW = 31  # pixels: the neighbourhood whose typical response is taken away
FAMILY_DEGREES = 8.0  # lines this close in angle are parallel
FAMILY_APART = 25  # pixels between them, at least (closer, it is the same fold seen twice)
FAMILY_SIZE = 3  # this many parallel strong lines are the picture's structure, not folds
EDGE_MARGIN = 12  # pixels: a line running this close along the picture's edge is that edge
MIN_COVER = 0.9  # fraction of the line along which both are seen
MIN_ORDERED = 0.7  # …or along which both are seen in the same order (texture: half of it)
DOMINANT = 2.0  # times the next line's score: a line that alone stands out so far over texture
MIN_PAIRED = 0.5  # …needs its pair (or its order) along only this much of it
LOBE_SHARE = 0.25  # the smaller of a fold's ridge and trough against the larger, at least
SPREAD = 6  # offsets and degrees around a found fold that are the same fold
HALF_WIDTH = 5  # pixels (at the picture's scale) either side of a fold that the mask covers


def _row_means(rot: np.ndarray, inside: np.ndarray, d: int) -> np.ndarray:
    """Per row y, the mean of rot[y + d] − rot[y − d] where both are inside the picture."""
    h = rot.shape[0]
    out = np.zeros(h, np.float32)
    both = inside[2 * d :] & inside[: h - 2 * d]
    diff = np.subtract(rot[2 * d :], rot[: h - 2 * d], dtype=np.float32)
    diff *= both
    n = both.sum(axis=1)
    out[d : h - d] = diff.sum(axis=1) / np.maximum(n, 1)
    return out


def _row_scores(rot: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of the turned picture: |near difference| less |far difference|, and length."""
    near, far = _row_means(rot, inside, NEAR), _row_means(rot, inside, FAR)
    return np.abs(near) - np.abs(far), inside.sum(axis=1).astype(np.float32)


def _scores(small: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per angle and row: |near difference| less |far difference|, and the row's length.

    The picture is turned by each angle below 90°; its rows are the lines of that angle and
    its columns, read bottom to top, the lines of that angle plus 90°: half the turns."""
    h, w = small.shape
    side = math.ceil(math.hypot(h, w)) + 2 * FAR + 2
    canvas = np.zeros((side, side, 2), np.float32)  # the picture, and where it is
    y0, x0 = (side - h) // 2, (side - w) // 2
    canvas[y0 : y0 + h, x0 : x0 + w, 0] = small
    canvas[y0 : y0 + h, x0 : x0 + w, 1] = 1.0
    score = np.zeros((ANGLES, side), np.float32)
    length = np.zeros((ANGLES, side), np.float32)
    quarter = ANGLES // 2
    for i in range(quarter):
        rot_m = cv2.getRotationMatrix2D(((side - 1) / 2, (side - 1) / 2), 180.0 * i / ANGLES, 1.0)
        turned = cv2.warpAffine(canvas, rot_m, (side, side))
        rot, inside = turned[..., 0], turned[..., 1] > 0.99
        score[i], length[i] = _row_scores(rot, inside)
        # Turned 90° more, row r of the picture is column r of this one, read upwards.
        cols, cols_in = np.ascontiguousarray(rot.T[::-1]), np.ascontiguousarray(inside.T[::-1])
        score[i + quarter], length[i + quarter] = _row_scores(cols, cols_in)
    return score, length, side


def _endpoints(angle_i: int, row: int, side: int, shift: tuple[int, int]) -> np.ndarray:
    """The row `row` of the picture turned by angle `angle_i`, as two points in the picture."""
    rot = cv2.getRotationMatrix2D(((side - 1) / 2, (side - 1) / 2), 180.0 * angle_i / ANGLES, 1.0)
    back = cv2.invertAffineTransform(rot)
    pts = np.array([[0.0, row, 1.0], [side - 1.0, row, 1.0]]) @ back.T
    return pts - np.array(shift, np.float64)


def fold_lines(grey: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Candidate folds across `grey`, strongest first: each as two end points (x, y) in its
    pixels, and how many robust deviations its row stands above all rows."""
    factor = max(1, math.ceil(max(grey.shape) / WORK_SIDE))
    size = (grey.shape[1] // factor, grey.shape[0] // factor)
    small = grey if factor == 1 else cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    score, length, side = _scores(small.astype(np.float32))
    valid = length >= MIN_LENGTH * min(small.shape)
    if not valid.any():
        return []
    med = float(np.median(score[valid]))
    spread = 1.4826 * float(np.median(np.abs(score[valid] - med))) + 0.25
    z = np.where(valid, (score - med) / spread, 0.0)
    shift = ((side - small.shape[1]) // 2, (side - small.shape[0]) // 2)
    found = []
    for _ in range(CANDIDATES):
        a, r = np.unravel_index(int(np.argmax(z)), z.shape)
        if z[a, r] < MIN_SCORE or score[a, r] < MIN_CONTRAST / factor:
            break
        found.append((_endpoints(int(a), int(r), side, shift) * factor, float(z[a, r])))
        for da in range(-SPREAD, SPREAD + 1):
            z[(a + da) % ANGLES, max(0, r - SPREAD) : r + SPREAD + 1] = 0.0
    return found


def _sample(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    h, w = img.shape
    xi = np.clip(np.rint(xs).astype(np.int64), 0, w - 1)
    yi = np.clip(np.rint(ys).astype(np.int64), 0, h - 1)
    return np.asarray(img[yi, xi])


def _points(
    ends: np.ndarray, shape: tuple[int, ...], margin: int
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Points a pixel apart along the line `ends` that lie at least `margin` pixels inside a
    picture of `shape`, and the unit normal to the line: xs, ys, nx, ny."""
    (x0, y0), (x1, y1) = ends
    length = math.hypot(x1 - x0, y1 - y0)
    h, w = shape[:2]
    t = np.linspace(0.0, 1.0, max(8, int(length)))
    xs, ys = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    ok = (xs >= margin) & (xs <= w - 1 - margin) & (ys >= margin) & (ys <= h - 1 - margin)
    return xs[ok], ys[ok], -(y1 - y0) / length, (x1 - x0) / length


def _across(ends: np.ndarray, bright: np.ndarray, dark: np.ndarray) -> tuple[np.ndarray, ...]:
    """`bright` and `dark` sampled along the line `ends`, at each offset across it within
    PAIR_REACH (offset × position); empty when the line is short in the picture or runs along
    its edge (the print's own edge, or the scanner's border)."""
    xs, ys, nx, ny = _points(ends, bright.shape, 0)
    h, w = bright.shape
    edge = np.minimum(np.minimum(xs, w - 1 - xs), np.minimum(ys, h - 1 - ys))
    if xs.size < 8 or float(np.median(edge)) < EDGE_MARGIN:
        return np.zeros((0, 0)), np.zeros((0, 0))
    offsets = range(-PAIR_REACH, PAIR_REACH + 1)
    b = np.array([_sample(bright, xs + d * nx, ys + d * ny) for d in offsets])
    d = np.array([_sample(dark, xs + d * nx, ys + d * ny) for d in offsets])
    return b, d


def paired_along(ends: np.ndarray, bright: np.ndarray, dark: np.ndarray, floor: int) -> float:
    """Fraction of the line along which a bright line and a dark line lie side by side.

    The signed difference is also large at the edge of a stripe (mortar, a tripod leg) and
    beside a thin line, but there only one of the two stands out as narrow: a fold has both.
    """
    b, d = _across(ends, bright, dark)
    if not b.size:
        return 0.0
    return float(np.mean((b.max(axis=0) >= floor) & (d.max(axis=0) >= floor)))


def ordered_along(ends: np.ndarray, bright: np.ndarray, dark: np.ndarray) -> float:
    """Fraction of the line along which a bright and a dark line lie side by side (each at
    least PAIR_CONTRAST) in the order they mostly have: the ridge of a fold is on the same
    side of its trough all along. Over busy texture (grass, a weave) both stand out nearly
    everywhere, so `paired_along`'s floor rises with the texture and a fold's pair drowns;
    but there the two come in either order, about half the time each."""
    b, d = _across(ends, bright, dark)
    if not b.size:
        return 0.0
    both = (b.max(axis=0) >= PAIR_CONTRAST) & (d.max(axis=0) >= PAIR_CONTRAST)
    order = np.sign(b.argmax(axis=0) - d.argmax(axis=0))[both]
    return float(max((order > 0).sum(), (order < 0).sum()) / max(1, both.size))


def _angle(ends: np.ndarray) -> float:
    (x0, y0), (x1, y1) = ends
    return math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180.0


def _in_a_family(ends: np.ndarray, lines: list[np.ndarray]) -> bool:
    """True when more strong lines run parallel to this one: a picture's straight structure
    (courses of brick, the legs of a lattice tower, a weave, rows of text) repeats, where a
    fold is one line."""
    mine = _angle(ends)
    (x0, y0), (x1, y1) = ends
    length = math.hypot(x1 - x0, y1 - y0)
    siblings = 0
    for other in lines:
        turn = abs((_angle(other) - mine + 90.0) % 180.0 - 90.0)
        mx, my = other.mean(axis=0)  # how far apart: the other's middle from this line
        apart = abs((x1 - x0) * (y0 - my) - (x0 - mx) * (y1 - y0)) / length
        siblings += turn <= FAMILY_DEGREES and apart > FAMILY_APART
    return siblings >= FAMILY_SIZE - 1


def folds(grey: np.ndarray, bright: np.ndarray, dark: np.ndarray, noise: float) -> list[np.ndarray]:
    """The folds across `grey`, each as two end points, given its fine top-hat and black-hat."""
    floor = max(PAIR_CONTRAST, round(3 * noise))
    candidates = fold_lines(grey)
    if not candidates:
        return []
    lines = [e for e, _ in candidates]
    # Above the typical response around: in texture both stand out everywhere.
    bright = cv2.subtract(bright, cv2.medianBlur(bright, BUSY_WINDOW))
    dark = cv2.subtract(dark, cv2.medianBlur(dark, BUSY_WINDOW))
    scores = [z for _, z in candidates]
    family = [_in_a_family(e, lines) for e in lines]
    rivals = _rivals(grey, lines, family)
    found = []
    for i, e in enumerate(lines):
        # A dominant line has no family: whatever runs beside it that could be a fold is at
        # most half as strong, and repeated structure (mortar, a tower's legs) repeats its
        # strength too; scratches laid beside a fold are not the picture's structure.
        alone = _dominant(scores, rivals, i)
        cover, order = (MIN_PAIRED, MIN_PAIRED) if alone else (MIN_COVER, MIN_ORDERED)
        if paired_along(e, bright, dark, floor) < cover and ordered_along(e, bright, dark) < order:
            continue
        if alone or not family[i]:
            found.append(e)
    return found[:MAX_FOLDS]


def _dominant(scores: list[float], rivals: list[bool], i: int) -> bool:
    """True when candidate `i` stands out DOMINANT times further (`scores`) than any other
    of the `rivals`, or than the least a candidate needs. Over thick texture (grass) a fold's
    ridge and trough drown along part of its length, but nothing else in the picture lines
    up across it: the Radon sum of a fold keeps growing with its length, texture's does not."""
    strongest = [MIN_SCORE] + [
        z for j, (z, rival) in enumerate(zip(scores, rivals, strict=True)) if j != i and rival
    ]
    return scores[i] >= DOMINANT * max(strongest)


def _rivals(grey: np.ndarray, lines: list[np.ndarray], family: list[bool]) -> list[bool]:
    """Which candidates a dominant fold must outshine: all but the lone one-sided lines
    (`family`: which lines are in one, `_in_a_family`). A scratch is a strong straight line
    too, but it has one lobe (`_lobes`) and no family; a course of mortar has one lobe but
    repeats, and is the picture's structure."""
    return [kin or _lobes(grey, e) for e, kin in zip(lines, family, strict=True)]


def _lobes(grey: np.ndarray, ends: np.ndarray) -> bool:
    """True when the median profile across the line (each offset's median along all of it,
    which texture does not move) has a bright lobe and a dark one, the smaller at least
    LOBE_SHARE of the larger: a fold's ridge and trough, not a thin line's single peak."""
    r = FAR
    xs, ys, nx, ny = _points(ends, grey.shape, r)
    if xs.size < 8:
        return False
    profile = np.array(
        [np.median(_sample(grey, xs + d * nx, ys + d * ny)) for d in range(-r, r + 1)]
    )
    profile -= (profile[:3].mean() + profile[-3:].mean()) / 2
    bright, dark = float(profile.max()), float(-profile.min())
    return min(bright, dark) >= LOBE_SHARE * max(bright, dark, 1.0)


def band(shape: tuple[int, ...], ends: list[np.ndarray], half_width: int) -> np.ndarray:
    """The pixels within `half_width` of each fold line (bool)."""
    out = np.zeros(shape[:2], np.uint8)
    for e in ends:
        (x0, y0), (x1, y1) = np.rint(e).astype(np.int64)
        cv2.line(out, (int(x0), int(y0)), (int(x1), int(y1)), 255, 2 * half_width + 1)
    return out > 0
