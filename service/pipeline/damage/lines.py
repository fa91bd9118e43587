"""Cracks and scratches: thin lines that do not belong to the picture (and, through
`creases`, folds).

A line of damage is narrower than its surroundings, so a morphological top-hat (bright lines:
paper showing through) or black-hat (dark lines: a scratch through to black) brings it out on a
flat background. Much of a picture's own detail does the same — whiskers, hair, rigging, text —
so a line is kept only when it looks like damage rather than detail:

- its strong pixels (the seeds) are at the tone of bare paper or of black in every colour
  band, whatever the colour around: a picture's own thin lines are mostly a lighter or darker
  shade of their surroundings; seeds must also beat the local texture, so grass blades do not;
  a run of contrast that is at that tone for a good part of it is taken whole (a crack's
  brightness varies along it);
- it is long and thin: a crack or scratch runs far compared with its width; text is short
  strokes and a catch-light a blob;
- it has no family: detail repeats (courses of brick, the members of a lattice tower, a
  bundle of whiskers run parallel; few other line pixels surround a lone crack; a page of
  letters or a weave closes many small cells, a crack branches like a tree).

Recall matters most (a crack left half in place is still seen), so a kept line is grown by
hysteresis from its seeds along weaker connected pixels, a few steps only so that it does not
run along a picture edge it touches, and widened by the soft rim a scanned crack has.
Everything is uint8 OpenCV and numpy on one (working-size) grey picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.pipeline.damage import creases, judge, oriented
from service.pipeline.damage.judge import Box, Scale

FINE = Scale(kernel=7, low=18, high=60, min_length=0.08, max_half_width=3.5,
             texture_gain=4.0, max_company=0.12, line_spreads=4.0)  # fmt: skip
CREASE = Scale(kernel=17, low=14, high=24, min_length=0.45, max_half_width=6.0,
               texture_gain=3.0, max_company=0.12)  # fmt: skip
PAPER_PERCENTILES = (0.5, 99.5)  # the print's black and paper white, ignoring a few outliers
TONE_REACH = 0.35  # a seed lies within this fraction of the tonal range of white or black
WEAK_TEXTURE_GAIN = 2.0  # weak pixels need less: they only extend a line already found
GROW = 4  # steps of hysteresis: how far a line is followed beyond its strong seeds
EDGE_MARGIN = 6  # pixels along the picture's edge where no seed is taken
EXACT_REACH = 0.12  # within this share of the tonal range it is the paper's (or black's) own tone
EXACT_FLOOR = 25  # …and there a seed needs only this much contrast
RIM = 1  # pixels: the soft edge of a scanned crack is damage too
GROW_SPREADS = 3.0  # robust deviations of line strength a pixel needs to extend a line
LINE_GAIN = 3.0  # a seed's line strength over the mean strength around it
SEED_FLOOR = 40  # grey levels of contrast a seed on a line needs
LINE_GROW = 2  # steps of hysteresis along the line strength: it stays on the line
BRIDGE = 0.3  # share of a run of contrast at the paper's (or black's) tone that makes it one line


def responses(grey: np.ndarray, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """Bright-line (top-hat) and dark-line (black-hat) contrast, uint8."""
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel))
    return (
        cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, se),
        cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, se),
    )


def _busy(resp: np.ndarray, scale: Scale) -> np.ndarray:
    """The mean response around each pixel (uint8): how busy the picture is there."""
    k = 4 * scale.kernel + 1
    out: np.ndarray = cv2.blur(resp, (k, k))
    return out


def _local_threshold(busy: np.ndarray, floor: int, gain: float) -> np.ndarray:
    """Per-pixel contrast a line pixel needs: the floor, raised where the picture is busy
    (`busy`, from `_busy`)."""
    return np.maximum(cv2.convertScaleAbs(busy, alpha=gain), np.uint8(floor))


@dataclass(frozen=True)
class Tones:
    """Per pixel, the palest and the deepest band (both the grey itself for a grey picture)."""

    grey: np.ndarray
    palest: np.ndarray  # min over the colour bands: high only where every band is high
    deepest: np.ndarray  # max over the colour bands: low only where every band is low


def tone_gates(tones: Tones, share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Where a seed of a bright line may be (near the paper's white in every band) and of a
    dark one (near the deepest black in every band): damage shows the bare paper base or a
    scratch through to black, neutral whatever the picture's colour there, while most of a
    picture's own thin lines are a lighter or darker shade of what is around them."""
    grey = tones.grey
    lo, hi = np.percentile(grey[::4, ::4], (PAPER_PERCENTILES[0], PAPER_PERCENTILES[1]))
    reach = (share or TONE_REACH) * max(float(hi - lo), 32.0)
    return tones.palest >= hi - reach, tones.deepest <= lo + reach


def _strong(
    resp: np.ndarray,
    busy: np.ndarray,
    gates: tuple[np.ndarray, np.ndarray],
    scale: Scale,
    floor: int,
) -> np.ndarray:
    """Seeds: well above the local texture (`busy`), at the tone of bare paper or of black
    (`gates`: that tone, and the paper's or black's own). Where the tone is that of the paper
    (or black) itself, less contrast will do: a crack over a light sky is faint, and no shade
    of the picture is that white."""
    tone, exact = gates
    contrast = np.asarray(resp >= _local_threshold(busy, floor, scale.texture_gain))
    seeds = _bridged(contrast, contrast & tone)
    if floor > EXACT_FLOOR:
        seeds |= (resp >= _local_threshold(busy, EXACT_FLOOR, scale.texture_gain)) & exact
    # Along the picture's edge a bright or dark band is the print's edge or the scanner's
    # border, not damage; a crack that reaches the edge is still grown into it from inside.
    e = EDGE_MARGIN
    seeds[:e], seeds[-e:], seeds[:, :e], seeds[:, -e:] = False, False, False, False
    return seeds


def _bridged(contrast: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """`seeds` with the rest of every run of contrast they make up at least `BRIDGE` of.

    A crack's brightness varies along it: where it is narrower than a pixel it never reaches
    the paper's tone, so its seeds alone are pieces, each too short to be a crack. The whole
    run is one line, judged as one. The same joining makes a course of mortar or a row of
    letters one piece with the joints or strokes beside it, which the family and mesh tests
    then know for what it is."""
    if not seeds.any():
        return seeds
    n, labels = cv2.connectedComponents(contrast.view(np.uint8), connectivity=8)
    total = np.bincount(labels.ravel(), minlength=n)
    toned = np.bincount(labels[seeds], minlength=n)
    whole = toned >= BRIDGE * total
    whole[0] = False
    out: np.ndarray = seeds | whole[labels]
    return out


def _grown(kept: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Hysteresis with a reach: weak pixels joined to kept seeds through weak pixels, at most
    `GROW` steps away, so a crack is masked to its faint ends without running along a picture
    edge it touches."""
    out: np.ndarray = kept & weak
    step = np.ones((3, 3), np.uint8)
    for _ in range(GROW):
        out = np.asarray(cv2.dilate(out.view(np.uint8), step) > 0) & weak
    return out


def _along_lines(
    resp: np.ndarray,
    tone: np.ndarray,
    scale: Scale,
    floors: tuple[int, int],
    faces: list[Box] | None,
) -> np.ndarray:
    """Damage lines found by their line strength (`oriented`) rather than by the pixels'
    contrast over the local texture: a scratch across grass is crossed and touched by blades
    everywhere, so its connected pixels merge with theirs, but along its length it stays
    bright where they average out. Seeds stand out in line strength, have some contrast of
    their own and the tone of paper or black; the line they make is judged on its shape,
    face and family as the others are, and grown only into pixels still on a line."""
    length = oriented.segment_length(min(resp.shape))
    s = oriented.strength(resp, length)
    floor, floor_high = floors
    high = max(oriented.level(s, scale.line_spreads), floor / 2)
    seeds: np.ndarray = (s >= high) & (resp >= floor_high) & tone
    seeds &= s >= oriented.busy(s, length) * LINE_GAIN
    e = EDGE_MARGIN
    seeds[:e], seeds[-e:], seeds[:, :e], seeds[:, -e:] = False, False, False, False
    if not seeds.any():
        return seeds
    labels, keep = judge.judged(seeds, scale, faces, None, straight_long=True)
    if not keep.any():
        return np.zeros(resp.shape, bool)
    low = max(oriented.level(s, GROW_SPREADS), floor / 4)
    path = ((resp >= floor) & (s >= low)) | seeds
    out: np.ndarray = keep[labels] & seeds
    step = np.ones((3, 3), np.uint8)
    for _ in range(LINE_GROW):
        out = np.asarray(cv2.dilate(out.view(np.uint8), step) > 0) & path
    return out


def line_mask(
    tones: Tones,
    scale: Scale,
    noise: float,
    given: tuple[np.ndarray, np.ndarray] | None = None,
    faces: list[Box] | None = None,
    found: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels on damage lines of one size, bright or dark (bool, the size of `grey`).

    The shape tests judge the strong seeds, linked: a seed line joined to the picture by weak
    pixels must not inherit the picture's shape. Weak pixels count only for the company a line
    keeps and for the final mask, which grows from kept seeds into weak pixels near them.
    Damage `found` already (at a finer size) gives no seeds, nor does what lies within this
    size's reach of it: joined to what it crosses, it would take the picture's own lines
    (mortar, a tower's members) past their family and mesh tests and keep them with it.
    """
    grey = tones.grey
    out = np.zeros(grey.shape, bool)
    # On a very noisy picture no line stands out enough: 255 is as high as contrast goes.
    floor_low = min(255, max(scale.low, round(3 * noise)))
    floor_high = min(255, max(scale.high, round(6 * noise)))
    pair = responses(grey, scale.kernel) if given is None else given
    gates = zip(tone_gates(tones), tone_gates(tones, EXACT_REACH), strict=True)
    for resp, (tone, exact) in zip(pair, gates, strict=True):
        busy = _busy(resp, scale)  # one blur serves the weak pixels' and the seeds' thresholds
        weak = resp >= _local_threshold(busy, floor_low, WEAK_TEXTURE_GAIN)
        strong = _strong(resp, busy, (tone, exact), scale, floor_high)
        known = found
        if scale.line_spreads:
            along = _along_lines(resp, exact, scale, (floor_low, SEED_FLOOR), faces)
            out |= along
            known = along if known is None else known | along
        mesh = None
        if known is not None and known.any():
            mesh = judge.mesh_region(strong)  # before the cut: a piece of a mesh is still one
            reach = np.ones((scale.kernel, scale.kernel), np.uint8)
            strong &= ~(cv2.dilate(known.view(np.uint8), reach) > 0)
        if not strong.any():
            continue
        labels, keep = judge.judged(strong, scale, faces, weak)
        if mesh is not None and keep.any():
            keep[np.unique(labels[mesh & strong])] = False
        if keep.any():
            out |= _grown(keep[labels] & strong, weak | strong)
    return out


def line_damage(
    tones: Tones,
    noise: float,
    faces: list[Box] | None = None,
    fine: tuple[np.ndarray, np.ndarray] | None = None,
    folds: tuple[list[np.ndarray], int] = ([], 0),
) -> np.ndarray:
    """Cracks and scratches alone (bool, widened by their rim); `fine` is the fine scale's
    top-hat and black-hat when the caller has them already, `folds` the folds found (end
    points in this picture's pixels) and how far either side of them their band runs. The
    wide scale looks beyond what the fine one found and beyond the folds, which are repaired
    their own way."""
    mask: np.ndarray = line_mask(tones, FINE, noise, fine, faces)
    ends, half = folds
    known = (mask | creases.band(mask.shape, ends, half)) if ends else mask
    mask |= line_mask(tones, CREASE, noise, None, faces, found=known)
    if RIM and mask.any():
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RIM + 1, 2 * RIM + 1))
        mask = np.asarray(cv2.dilate(mask.view(np.uint8), se) > 0)
    return mask
