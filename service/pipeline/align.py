"""How far a model's answer drifted from the scan it was given: shift, scale, small rotation.

Edit models re-draw the whole picture, and what comes back is rarely pixel-exact: a few pixels
of shift, a percent of zoom, sometimes a mirrored or re-framed picture. Merging the scan's detail
over a drifted answer would ghost every edge, so the merge first estimates the drift here.

Both images are compared through their *structure* (local-contrast-normalised band-pass of the
luminance), which ignores what the model is meant to change (tone, colour, fading) and keeps
what it must not (where edges are). Candidates start from the identity, from phase correlation
and from ORB feature matches (which find large re-framings that ECC alone would not), are
refined with OpenCV's ECC, and the best is classified:

    small       corrected by warping the answer onto the scan
    featureless nothing to line up (a blank picture): merged as it is
    reframed    shift/zoom/rotation beyond what a model does by accident: ask for review
    mirrored    the answer matches the scan far better flipped left-right: ask for review
    unmatched   no geometry explains the answer: ask for review
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from service.pipeline import views

# Beyond these the model re-framed the picture rather than drifted: 2.5 % of the short side is
# ~25 px on a 1-megapixel answer, far more than the latent-grid shifts edit models make.
MAX_SHIFT = 0.025
MAX_SCALE = 0.03
MAX_ROTATION = 2.0  # degrees
MAX_SHEAR = 0.02
MIN_MATCH = 0.25  # structure correlation below this: the answer is not this picture
MIRROR_MARGIN = 0.10
FEATURELESS = 1.0  # grey levels of band-passed spread below which nothing can be lined up
CLEAR_MATCH = 0.6  # above this an unmirrored small drift is taken without looking further
# Coarse to fine: candidates are ranked and refined at 256 px, the winner is refined at 512
# (ECC's sub-pixel accuracy there is a fraction of a pixel of a megapixel answer).
COARSE_SIDE = 256
FINE_SIDE = 512
FEATURE_SIDE = 512  # where `featureless` looks
ECC_COARSE, ECC_FINE = 40, 15  # iterations


@dataclass(frozen=True)
class Drift:
    """The estimated geometry: `matrix` maps scan pixels (x, y, 1) to answer pixels."""

    matrix: np.ndarray  # 2×3 float64, in the frame where both images have the scan's size
    match: float  # structure correlation after alignment, 0…1
    kind: str  # small, reframed, mirrored, unmatched

    @property
    def ok(self) -> bool:
        """The answer may be merged once warped."""
        return self.kind in ("small", "featureless")

    def summary(self, size: tuple[int, int]) -> dict[str, float | str]:
        """Shift (in % of the short side), zoom, rotation and match, for the step's record."""
        dx, dy, scale, angle, shear = decompose(self.matrix, size)
        short = max(1, min(size))
        return {
            "kind": self.kind,
            "shift_pct": round(100 * math.hypot(dx, dy) / short, 2),
            "dx_px": round(dx, 2),
            "dy_px": round(dy, 2),
            "scale": round(scale, 4),
            "rotation_deg": round(angle, 3),
            "shear": round(shear, 4),
            "match": round(self.match, 3),
        }


def smooth(a: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur; wide ones as two box filters (same variance, cost independent of it)."""
    if sigma < 3:
        out: np.ndarray = cv2.GaussianBlur(a, (0, 0), sigma)
        return out
    k = max(3, round(math.sqrt(6 * sigma * sigma + 1)) | 1)
    out2: np.ndarray = cv2.blur(cv2.blur(a, (k, k)), (k, k))
    return out2


def _band_pass(g: np.ndarray) -> tuple[np.ndarray, float]:
    """The luminance band-passed at scales set by the picture's size, and the coarse scale."""
    side = max(g.shape)
    fine, coarse = max(0.6, side / 1400), max(3.0, side / 90)
    return smooth(g, fine) - smooth(g, coarse), coarse


def structure(grey: np.ndarray) -> np.ndarray:
    """Band-passed luminance divided by its local contrast: edges, not tone."""
    g = grey.astype(np.float32)
    band, coarse = _band_pass(g)
    energy = smooth(band * band, 2 * coarse)
    out: np.ndarray = band / (np.sqrt(np.maximum(energy, 0)) + 2.0)
    return out


def correlation(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Normalised cross-correlation of two structure images (over `valid` when given)."""
    if valid is not None:
        if int(valid.sum()) < 64:
            return 0.0
        a, b = a[valid], b[valid]
    a = a - a.mean()
    b = b - b.mean()
    denom = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Sample `image` at `matrix`·(x, y, 1) for every pixel of an output of `size`."""
    return cv2.warpAffine(
        image,
        matrix.astype(np.float32),
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def decompose(
    matrix: np.ndarray, size: tuple[int, int]
) -> tuple[float, float, float, float, float]:
    """Shift of the centre (px), scale, rotation (degrees) and shear of an affine map."""
    a = matrix[:, :2]
    w, h = size
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    moved = a @ centre + matrix[:, 2] - centre
    u, s, vt = np.linalg.svd(a)
    rot = u @ vt
    scale = float(math.sqrt(abs(np.linalg.det(a))))
    angle = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    shear = float(s[0] / s[1] - 1) if s[1] > 0 else math.inf
    return float(moved[0]), float(moved[1]), scale, angle, shear


def classify(matrix: np.ndarray, size: tuple[int, int]) -> str:
    """'small' when the map is within the limits above, else 'reframed'."""
    dx, dy, scale, angle, shear = decompose(matrix, size)
    small = (
        math.hypot(dx, dy) <= MAX_SHIFT * min(size)
        and abs(scale - 1) <= MAX_SCALE
        and abs(angle) <= MAX_ROTATION
        and shear <= MAX_SHEAR
        and np.linalg.det(matrix[:, :2]) > 0
    )
    return "small" if small else "reframed"


def _resize_to(grey: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """`views.shrink_to`, and the factor it reduced by."""
    out = views.shrink_to(grey, side)
    return out, out.shape[1] / grey.shape[1]


def _rescale(matrix: np.ndarray, f: float) -> np.ndarray:
    """The same map expressed in a frame scaled by `f` (pixel centres kept)."""
    s = np.array([[f, 0, (f - 1) / 2], [0, f, (f - 1) / 2], [0, 0, 1]])
    full = np.vstack([matrix, [0, 0, 1]])
    out: np.ndarray = (s @ full @ np.linalg.inv(s))[:2]
    return out


def _ecc(scan: np.ndarray, answer: np.ndarray, init: np.ndarray, iters: int) -> np.ndarray | None:
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iters, 1e-5)
    try:
        mask = np.full(scan.shape, 255, np.uint8)
        _, m = cv2.findTransformECC(
            scan, answer, init.astype(np.float32), cv2.MOTION_AFFINE, criteria, mask, 1
        )
    except cv2.error:
        return None  # did not converge from this start
    return m.astype(np.float64)


def _phase_init(scan: np.ndarray, answer: np.ndarray) -> np.ndarray:
    win = cv2.createHanningWindow(scan.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(scan, answer, win)
    return np.array([[1, 0, dx], [0, 1, dy]], np.float64)


def _orb_init(scan: np.ndarray, answer: np.ndarray) -> np.ndarray | None:
    """A similarity from ORB matches: the only start that finds a 15 % zoom or a big shift."""

    def u8(a: np.ndarray) -> np.ndarray:
        lo, hi = float(a.min()), float(a.max())
        return np.clip((a - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255).astype(np.uint8)

    orb = cv2.ORB.create(1500)
    ks, ds = orb.detectAndCompute(u8(scan), None)
    ka, da = orb.detectAndCompute(u8(answer), None)
    if ds is None or da is None or len(ks) < 8 or len(ka) < 8:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(ds, da)
    if len(matches) < 8:
        return None
    src = np.array([ks[m.queryIdx].pt for m in matches], np.float32)
    dst = np.array([ka[m.trainIdx].pt for m in matches], np.float32)
    m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3)
    if m is None or inliers is None or int(inliers.sum()) < 8:
        return None
    return m.astype(np.float64)


def _best(
    scan_grey: np.ndarray, answer_grey: np.ndarray, *, features: bool
) -> tuple[np.ndarray, float]:
    """The best map found, refined at up to FINE_SIDE, and its match.

    The starts are the identity and phase correlation; with `features`, ORB's too (the only
    start that finds a 15 % zoom or a big shift, and the costly one, so it is asked for only
    when the cheap starts do not give a clear small drift).
    """
    size = scan_grey.shape[::-1]
    fine_s, _ = _resize_to(scan_grey, FINE_SIDE)
    fine_a, _ = _resize_to(answer_grey, FINE_SIDE)
    coarse_s, f = _resize_to(fine_s, COARSE_SIDE)
    coarse_a, _ = _resize_to(fine_a, COARSE_SIDE)
    ps, pa = structure(coarse_s), structure(coarse_a)
    identity = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    starts = [identity, _phase_init(ps, pa)]
    if features:
        orb = _orb_init(fine_s, fine_a)
        if orb is not None:
            starts.append(_rescale(orb, f))

    def score(m: np.ndarray) -> float:
        return correlation(ps, warp(pa, m, ps.shape[::-1]), _inside(m, pa.shape, ps.shape))

    # ECC is the costly part: it runs from the best start only.
    scored = sorted(((score(m), i) for i, m in enumerate(starts)), reverse=True)
    best_cc, best = scored[0][0], starts[scored[0][1]]
    m = _ecc(ps, pa, best, ECC_COARSE)
    if m is not None:
        cc = score(m)
        if cc > best_cc:
            best, best_cc = m, cc
    m_fine = _rescale(best, 1 / f)
    if f < 1 / 1.2:  # a finer look adds sub-pixel accuracy the coarse pass cannot have
        ps, pa = structure(fine_s), structure(fine_a)
        refined = _ecc(ps, pa, m_fine, ECC_FINE)
        if refined is not None:
            cc = correlation(ps, warp(pa, refined, ps.shape[::-1]), _inside(refined, pa.shape))
            if cc >= best_cc - 0.02:
                m_fine, best_cc = refined, cc
    return _rescale(m_fine, size[0] / fine_s.shape[1]), best_cc


def _inside(
    matrix: np.ndarray, answer_shape: tuple[int, ...], scan_shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Scan pixels whose warped position falls inside the answer (margins of 2 px)."""
    h, w = (scan_shape or answer_shape)[:2]
    ah, aw = answer_shape[:2]
    ones = np.zeros((ah, aw), np.uint8)
    ones[2 : ah - 2, 2 : aw - 2] = 1
    inside: np.ndarray = (
        cv2.warpAffine(
            ones,
            matrix.astype(np.float32),
            (w, h),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        > 0
    )
    return inside


def featureless(grey: np.ndarray) -> bool:
    """Hardly any structure at all: the band-passed luminance varies by under a grey level."""
    band, _ = _band_pass(_resize_to(grey.astype(np.float32), FEATURE_SIDE)[0])
    return float(band.std()) < FEATURELESS


def estimate(scan_grey: np.ndarray, answer_grey: np.ndarray) -> Drift:
    """The drift of `answer_grey` from `scan_grey` (same size, float32 luminance)."""
    if scan_grey.shape != answer_grey.shape:
        raise ValueError("estimate: bring the answer to the scan's size first")
    size = (scan_grey.shape[1], scan_grey.shape[0])
    if featureless(scan_grey):
        # A blank sky, a wall: nothing to line up, and nothing that a drift could ghost.
        return Drift(np.array([[1, 0, 0], [0, 1, 0]], np.float64), 0.0, "featureless")
    matrix, match = _best(scan_grey, answer_grey, features=False)
    if match >= CLEAR_MATCH and classify(matrix, size) == "small":
        return Drift(matrix, match, "small")  # a mirror image could not match this well
    looked, looked_match = _best(scan_grey, answer_grey, features=True)
    if looked_match > match:
        matrix, match = looked, looked_match
    if match >= CLEAR_MATCH and classify(matrix, size) == "small":
        return Drift(matrix, match, "small")
    flipped, flip_match = _best(
        scan_grey, np.ascontiguousarray(answer_grey[:, ::-1]), features=True
    )
    if flip_match > max(match + MIRROR_MARGIN, MIN_MATCH + MIRROR_MARGIN):
        # Sample the flipped answer at `flipped`: in the unflipped answer that is x → w-1-x.
        mirror = np.array([[-1, 0, size[0] - 1], [0, 1, 0], [0, 0, 1]], np.float64)
        return Drift((mirror @ np.vstack([flipped, [0, 0, 1]]))[:2], flip_match, "mirrored")
    if match < MIN_MATCH:
        return Drift(matrix, match, "unmatched")
    return Drift(matrix, match, classify(matrix, size))


def rescaled(drift: Drift, f: float) -> Drift:
    """The same drift in a frame scaled by `f` (estimated on a reduced copy, applied larger)."""
    return Drift(_rescale(drift.matrix, f), drift.match, drift.kind)
