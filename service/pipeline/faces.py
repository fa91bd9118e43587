"""Did the model change a face? Faces found in the scan, scored by how much their structure moved.

"Grandma looks like a stranger" is the failure people mind most, and no tone or detail metric
sees it. Faces are found with OpenCV's bundled Haar cascades (their XML ships inside the
opencv-python-headless wheel, under `cv2.data`: nothing is downloaded; OpenCV 5 no longer ships
them, hence the pin below 5), once, in the scan at 512 px: the scan is what the face really
was, and what the model did cannot hide a face there. (The wheel also has `FaceDetectorYN`,
but not YuNet's model, which would have to be downloaded.) Frontal faces only: the profile
cascade finds little in old portraits and doubles the cost.

A face's score compares the *structure* of the tone-matched scan and of the answer inside the
face: a band-pass at the scale of eyes, nostrils and mouth corners, correlated over the face
with the repaired pixels left out (a scratch removed from a cheek is not a changed face).
0 means the same features in the same places; 0.5 and more, different ones. The chain's
fidelity level sets how much change is accepted before a person is asked to look.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# An unchanged face scores ~0.00–0.03 (a blurred or smoothed one too: the band is the features'
# scale); features moved by 4 % of the face score ~0.2, by 8 % ~0.5, a face grown by a third or
# mirrored 0.25–0.45, another face pasted in 0.3 and more. The score depends on the box's size
# (the cascade's sizes are 20 % apart): these are for boxes that fit the face, as at 512 px.
THRESHOLDS = {"faithful": 0.10, "balanced": 0.15, "strong": 0.25}
MAX_REPAIRED_SHARE = 0.15
DETECT_SIDE = 512  # faces of ~4 % of the picture's side are found (the cascade's 20 px window)
SCALE_STEP = 1.2  # between the cascade's window sizes; 1.15 costs a third more for the same faces
# alt2 has far fewer false faces in textures (brick, foliage) than the default frontal cascade.
CASCADE = "haarcascade_frontalface_alt2.xml"
CASCADE_DIR = Path(cv2.__file__).parent / "data"  # what cv2.data.haarcascades points to
_lock = threading.Lock()  # a CascadeClassifier is not safe to share between threads


@dataclass(frozen=True)
class FaceScore:
    """One face: its box (x, y, w, h) in the scan's pixels and how much it changed."""

    box: tuple[int, int, int, int]
    score: float
    limit: float

    @property
    def changed(self) -> bool:
        """Over the fidelity level's threshold."""
        return self.score > self.limit

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for the step's record."""
        return {"box": list(self.box), "score": round(self.score, 3), "limit": self.limit}


def _detect(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    eq = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
    min_side = max(20, round(0.035 * min(grey.shape)))
    with _lock:
        cascade = cv2.CascadeClassifier(str(CASCADE_DIR / CASCADE))
        if cascade.empty():
            return []
        boxes = cascade.detectMultiScale(eq, SCALE_STEP, 5, minSize=(min_side, min_side))
    found: list[tuple[int, int, int, int]] = [
        (int(x), int(y), int(w), int(h)) for x, y, w, h in np.asarray(boxes).reshape(-1, 4)
    ]
    return found


def find(grey: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Face boxes as fractions (x, y, w, h) of the picture; `grey` no larger than DETECT_SIDE
    is looked at as it is (the shared 512-px view of the scan), a larger one reduced."""
    h, w = grey.shape
    f = min(1.0, DETECT_SIDE / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if f < 1 else grey
    boxes = _detect(np.clip(small, 0, 255).astype(np.uint8))
    sw, sh = size
    return [(x / sw, y / sh, bw / sw, bh / sh) for x, y, bw, bh in boxes]


def _band(grey: np.ndarray, face_side: float) -> np.ndarray:
    fine = max(0.5, face_side / 60)
    coarse = max(fine * 2, face_side / 10)
    out: np.ndarray = cv2.GaussianBlur(grey, (0, 0), fine) - cv2.GaussianBlur(grey, (0, 0), coarse)
    return out


def score(
    scan_grey: np.ndarray,
    answer_grey: np.ndarray,
    repair: np.ndarray,
    box: tuple[float, float, float, float],
) -> float:
    """1 − the weighted correlation of the two faces' feature bands (0 = unchanged)."""
    h, w = scan_grey.shape
    x, y, bw, bh = box
    pad = 0.25 * max(bw, bh)
    x0, y0 = max(0, math.floor(x - pad)), max(0, math.floor(y - pad))
    x1, y1 = min(w, math.ceil(x + bw + pad)), min(h, math.ceil(y + bh + pad))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    side = max(bw, bh)
    a = _band(scan_grey[y0:y1, x0:x1], side)
    b = _band(answer_grey[y0:y1, x0:x1], side)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    cx, cy = x + bw / 2, y + bh / 2
    ellipse = ((xx - cx) / (0.55 * bw)) ** 2 + ((yy - cy) / (0.65 * bh)) ** 2
    inside = np.clip(1.5 - ellipse, 0, 1)
    repaired = repair[y0:y1, x0:x1]
    # Specks and a scratch across a cheek are repairs, left out of the comparison; a "repair"
    # covering much of the face is the model re-drawing it, which is what is measured here.
    share = float((inside * repaired).sum()) / max(float(inside.sum()), 1e-6)
    weight = inside * (1.0 - repaired) if share <= MAX_REPAIRED_SHARE else inside
    total = float(weight.sum())
    if total < 16:
        return 0.0
    ma, mb = float((weight * a).sum()) / total, float((weight * b).sum()) / total
    a, b = a - ma, b - mb
    num = float((weight * a * b).sum())
    den = math.sqrt(float((weight * a * a).sum()) * float((weight * b * b).sum()))
    return float(np.clip(1.0 - num / den, 0.0, 2.0)) if den > 1e-6 else 0.0


def check(
    boxes: list[tuple[float, float, float, float]],
    matched_grey: np.ndarray,
    answer_grey: np.ndarray,
    repair: np.ndarray,
    fidelity: str,
) -> list[FaceScore]:
    """The faces `find` found in the scan (boxes as fractions), scored on the tone-matched scan
    against the answer; those three share one frame, and so do the boxes returned."""
    limit = THRESHOLDS.get(fidelity, THRESHOLDS["balanced"])
    h, w = matched_grey.shape
    out = []
    for fx, fy, fw, fh in boxes:
        box = (fx * w, fy * h, fw * w, fh * h)
        s = score(matched_grey, answer_grey, repair, box)
        rounded = (round(box[0]), round(box[1]), round(box[2]), round(box[3]))
        out.append(FaceScore(rounded, s, limit))
    return out
