"""`merge_detail`: a remote model's small answer brought to the scan's full size without losing
the scan's own detail (see `service.pipeline.merge` for how).

The step needs the scan as it stood before the model step: the remote executor leaves it in the
op context (`handoff`). Before merging, the answer's drift is estimated (`align`): a small one
is corrected; a re-framed, mirrored or unrecognisable answer is not merged (that would ghost
every edge) but enlarged as it is, with the reason and the measured geometry in the step's
record and a request for review; its geometry is recorded as a frame change so the "keep the
original here" brush still lines up. Faces are checked (`faces`) against the chain's fidelity
level. Without a scan to merge with (no model ran), it does what `match_size` did.

When the step holds the only reference to the scan (the model step left it and nothing else
kept it), the result is written into the scan's own memory: at 600 dpi that is 180 MB less
than a second full-size image.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from PIL import Image

from service.errors import ConfigError
from service.pipeline import (
    align,
    compose,
    faces,
    findings,
    handoff,
    memory,
    merge,
    transforms,
    views,
)
from service.pipeline.ops.geometry import match_size
from service.pipeline.parallel import in_background
from service.pipeline.registry import OpContext, register

MAX_PLAN_PIXELS = 4_000_000  # answers larger than this are planned at this size (tone, repairs)
NOTHING_TO_ADD = 0.8  # an answer with this share of the scan's pixels gains nothing from a merge
REASONS = {
    "reframed": "the model moved or reframed the picture",
    "mirrored": "the model mirrored the picture",
    "unmatched": "the model's answer does not line up with the scan",
}


def frame_size(scan: tuple[int, int], answer: tuple[int, int]) -> tuple[int, int]:
    """The answer's pixel count (capped) with the scan's aspect ratio: where both are compared."""
    pixels = min(answer[0] * answer[1], MAX_PLAN_PIXELS)
    s = math.sqrt(pixels / (scan[0] * scan[1]))
    return max(8, round(scan[0] * s)), max(8, round(scan[1] * s))


def _bands(image: Image.Image, channels: int) -> np.ndarray:
    """h×w×C uint8."""
    mode = "L" if channels == 1 else "RGB"
    a = np.asarray(image if image.mode == mode else image.convert(mode))
    return a[:, :, None] if a.ndim == 2 else a


def _channels(scan: Image.Image, answer: Image.Image) -> int:
    """1 when both are black-and-white (an RGB answer of a grey scan that stayed grey), else 3."""
    if scan.mode not in ("L", "LA"):
        return 3
    if answer.mode == "L":
        return 1
    thumb = np.asarray(answer.convert("RGB").resize((64, 64)), np.int16)
    return 1 if int(np.abs(thumb - thumb[..., :1]).max()) <= 6 else 3


def _fallback(
    answer: Image.Image, scan_size: tuple[int, int], frame: tuple[int, int], drift: align.Drift
) -> Image.Image:
    """The answer enlarged as it is; its geometry recorded so the original can follow it."""
    findings.ask_review(REASONS[drift.kind])
    if drift.kind != "unmatched":
        # drift.matrix maps scan pixel centres to answer ones in `frame`; pixel centre
        # = unit·size − 0.5. Recorded: answer unit → scan unit, the result's frame to the scan's.
        w, h = frame
        px = np.array([[w, 0, -0.5], [0, h, -0.5], [0, 0, 1]])
        m = np.vstack([drift.matrix, [0, 0, 1]])
        inverse = np.linalg.inv(np.linalg.inv(px) @ m @ px)[:2]
        transforms.record("warp", matrix=inverse.round(8).tolist(), size=list(scan_size))
    return answer.resize(scan_size, Image.Resampling.LANCZOS)


def _damage(ctx: OpContext, scan: Image.Image, size: tuple[int, int]) -> np.ndarray | None:
    mask = handoff.damage_mask(ctx)
    if mask is None:
        return None
    if abs(mask.width / mask.height - scan.width / scan.height) > 0.01:
        return None  # in another frame (a crop ran after the detector): better none than wrong
    grey = np.asarray(mask.convert("L"), np.float32)
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    out: np.ndarray = np.clip(small * 4, 0, 255)  # a thin scratch must survive the reduction
    return out


def _check_faces(
    boxes: list[tuple[float, float, float, float]],
    check: merge.Check,
    level: str,
    to_scan: float,
) -> None:
    scores = faces.check(boxes, check.matched, check.answer, check.repair, level)
    found = [
        faces.FaceScore(
            (
                round(s.box[0] * to_scan),
                round(s.box[1] * to_scan),
                round(s.box[2] * to_scan),
                round(s.box[3] * to_scan),
            ),
            s.score,
            s.limit,
        )
        for s in scores
    ]
    findings.measure("faces", [s.to_dict() for s in found])
    for s in found:
        if s.changed:
            x, y, w, h = s.box
            findings.ask_review(
                f"a face changed more than the '{level}' fidelity level allows "
                f"(score {s.score:.2f} > {s.limit:.2f}, at x={x}, y={y}, {w}×{h} px)"
            )


def _drift(v: views.Views, answer: np.ndarray) -> align.Drift:
    """The answer's drift, estimated on the shared 512-px views, in the plan's pixels."""
    scan_grey = v.grey_at(align.FINE_SIDE)
    answer_grey = (
        cv2.resize(views.luma(answer), scan_grey.shape[::-1], interpolation=cv2.INTER_AREA)
        if scan_grey.shape != answer.shape[:2]
        else views.luma(answer)
    )
    drift = align.estimate(scan_grey, answer_grey)
    return align.rescaled(drift, v.plan_size[0] / scan_grey.shape[1])


def merge_answer(
    answer: Image.Image,
    scan: Image.Image,
    fidelity: str,
    ctx: OpContext,
    *,
    grain: float,
    owned: bool = False,
) -> Image.Image:
    """Align, check and merge `answer` with `scan`; see the module docstring. With `owned`
    (nothing else refers to the scan) the result is written into the scan's own memory."""
    if scan.mode not in ("RGB", "L", "RGBA", "LA"):  # the pipeline's working modes; others once
        scan, owned = scan.convert("L" if scan.mode in ("I", "I;16", "F", "1") else "RGB"), True
    memory.release_memory()  # what decoding and the model step freed, before this step's peak
    channels = _channels(scan, answer)
    size = frame_size(scan.size, answer.size)
    v = views.look(scan, size)
    # The face detector (a compiled cascade on two threads) runs beside the planning.
    found = in_background(faces.find, v.grey_at(faces.DETECT_SIDE))
    stretched = answer if answer.size == size else answer.resize(size, Image.Resampling.LANCZOS)
    answer_u8 = _bands(stretched, channels)
    answer_arr = answer_u8.astype(np.float32)
    drift = _drift(v, answer_arr)
    findings.measure("frame", list(scan.size))  # what the face boxes and the drift refer to
    findings.measure("drift", drift.summary(size))
    if not drift.ok:
        if not found.cancel():
            found.result()  # the strip workers are free again before anything else uses them
        return _fallback(answer, scan.size, size, drift)
    aligned = align.warp(answer_arr, drift.matrix, size).reshape(size[1], size[0], -1)
    del answer_arr
    p, check = merge.plan(
        v,
        aligned,
        merge.answer_on_grid(v, answer_u8, drift.matrix, scan.size),
        scan.size,
        damage=_damage(ctx, scan, size),
        keep_grain=grain,
    )
    findings.measure("repaired_pct", round(100 * check.repaired_fraction(), 2))
    findings.measure("scale", round(scan.width / size[0], 2))
    findings.measure("in_place", owned)  # the result written into the scan's own memory
    _check_faces(found.result(), check, fidelity, scan.width / size[0])
    del v, check, aligned, answer_u8, stretched  # the full-size pass is the peak
    return compose.compose(scan, p, in_place=owned)


@register(
    "merge_detail",
    "Bring a model's answer to the scan's size: the model's tone, colour and repairs, the "
    "scan's own detail; drift corrected, re-framing and changed faces sent to review",
)
def merge_detail(
    image: Image.Image, ctx: OpContext, /, *, grain: Any = 0.0, **_: Any
) -> Image.Image:
    """Merge the model's answer (`image`) with the scan the model step left in `ctx`."""
    try:
        keep = float(grain)
    except (TypeError, ValueError):
        raise ConfigError(f"merge_detail: grain must be a number, got {grain!r}") from None
    if not 0.0 <= keep <= 1.0:
        raise ConfigError(f"merge_detail: grain must be between 0 and 1, got {keep:g}")
    before = handoff.take(ctx)
    if before is None:
        return match_size(image, ctx)
    scan, fidelity = before.scan, before.fidelity
    del before
    if image.width * image.height >= NOTHING_TO_ADD * scan.width * scan.height:
        if image.size == scan.size:
            return image
        return image.resize(scan.size, Image.Resampling.LANCZOS)
    owned = memory.sole_reference(scan)  # nobody else holds the scan: its memory takes the result
    return merge_answer(image, scan, fidelity, ctx, grain=keep, owned=owned)
