"""`merge_detail`: a remote model's small answer brought to the scan's full size without losing
the scan's own detail (see `service.pipeline.merge` for how).

The step needs the scan as it stood before the model step: the remote executor leaves it in the
op context (`handoff`). Before merging, the answer's drift is estimated (`align`): a small one
is corrected; a re-framed, mirrored or unrecognisable answer is not merged (that would ghost
every edge) but enlarged as it is, with the reason and the measured geometry in the step's
record and a request for review; its geometry is recorded as a frame change so the "keep the
original here" brush still lines up. Faces are checked (`faces`) against the chain's fidelity
level. Without a scan to merge with (no model ran), it does what `match_size` did.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from PIL import Image

from service.errors import ConfigError
from service.pipeline import align, faces, findings, handoff, merge, transforms
from service.pipeline.ops._common import thumbnail
from service.pipeline.ops.geometry import match_size
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


def shrink(scan: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The scan at `size`: box-reduced on the strip workers, then Lanczos (as the model got it)."""
    reduced = thumbnail(scan, 2 * max(size))
    return reduced.resize(size, Image.Resampling.LANCZOS)


def _bands(image: Image.Image, channels: int) -> np.ndarray:
    mode = "L" if channels == 1 else "RGB"
    a = np.asarray(image if image.mode == mode else image.convert(mode), np.float32)
    return a[:, :, None] if a.ndim == 2 else a


def _luma(a: np.ndarray) -> np.ndarray:
    out: np.ndarray = (a.mean(axis=2) if a.shape[2] > 1 else a[..., 0]).astype(np.float32)
    return out


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
    scan: np.ndarray, answer: np.ndarray, p: merge.Plan, level: str, to_scan: float
) -> None:
    scores = faces.check(scan, p.matched, _luma(answer), p.repair, level)
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


def merge_answer(
    answer: Image.Image, before: handoff.BeforeModel, ctx: OpContext, *, grain: float
) -> Image.Image:
    """Align, check and merge `answer` with the scan in `before`; see the module docstring."""
    scan = before.scan
    if scan.mode not in ("RGB", "L", "RGBA", "LA"):  # the pipeline's working modes; others once
        scan = scan.convert("L" if scan.mode in ("I", "I;16", "F", "1") else "RGB")
    merge.release_memory()  # what decoding and the model step freed, before this step's peak
    channels = _channels(scan, answer)
    size = frame_size(scan.size, answer.size)
    scan_small = shrink(scan, size).convert("L" if scan.mode in ("L", "LA") else "RGB")
    stretched = answer if answer.size == size else answer.resize(size, Image.Resampling.LANCZOS)
    answer_arr = _bands(stretched, channels)
    scan_arr = np.asarray(scan_small, np.float32)
    drift = align.estimate(_luma(scan_arr.reshape(size[1], size[0], -1)), _luma(answer_arr))
    findings.measure("drift", drift.summary(size))
    if not drift.ok:
        return _fallback(answer, scan.size, size, drift)
    aligned = align.warp(answer_arr, drift.matrix, size).reshape(size[1], size[0], -1)
    p = merge.plan(scan, scan_small, aligned, damage=_damage(ctx, scan, size), keep_grain=grain)
    findings.measure("repaired_pct", round(100 * p.repaired_fraction(), 2))
    findings.measure("scale", round(scan.width / size[0], 2))
    scan_luma = _luma(scan_arr.reshape(size[1], size[0], -1))
    _check_faces(scan_luma, aligned, p, before.fidelity, scan.width / size[0])
    del aligned, answer_arr, scan_arr, scan_small, stretched  # the full-size pass is the peak
    out = merge.compose(scan, p)
    if scan.mode in ("RGBA", "LA"):
        out = out.convert("RGBA" if channels == 3 else "LA")
        out.putalpha(scan.getchannel("A"))
    return out


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
    scan = before.scan
    if image.width * image.height >= NOTHING_TO_ADD * scan.width * scan.height:
        if image.size == scan.size:
            return image
        return image.resize(scan.size, Image.Resampling.LANCZOS)
    return merge_answer(image, before, ctx, grain=keep)
