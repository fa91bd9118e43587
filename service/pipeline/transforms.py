"""What a chain did to the frame (crops, rotations, resizes), so the same can be done to another
image — the original scan — and the two line up pixel for pixel.

The "keep the original here" brush needs it: the mask is painted over the restored result,
whose frame the automatic border crop and deskew changed. Operations that change geometry call
`record(...)`; the runner records a plain resize for any step that changed the size without
saying how (a remote model's answer). Recording is a context variable, so it follows the work
into `asyncio.to_thread` and costs nothing when nobody listens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from service.pipeline.resample import rotate_crop

_LOG: ContextVar[list[Transform] | None] = ContextVar("geometry_log", default=None)


@dataclass(frozen=True)
class Transform:
    """One change of frame: `kind` is crop, rotate_crop, transpose, resize or warp.

    A warp is an affine map in unit coordinates (0…1 across the picture), from the output to
    the input, with the output's size: `matrix` [[a, b, c], [d, e, f]] and `size` [w, h]. Being
    free of pixel sizes, it holds the same for the original as for the model's small answer.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def record(kind: str, **params: Any) -> None:
    """Note a change of frame made by the running operation (no-op when nobody records)."""
    log = _LOG.get()
    if log is not None:
        log.append(Transform(kind, params))


def entries() -> int:
    """How many transforms were recorded so far (-1 when not recording)."""
    log = _LOG.get()
    return -1 if log is None else len(log)


@contextlib.contextmanager
def recording() -> Iterator[list[Transform]]:
    """Record the transforms of everything run inside the block."""
    log: list[Transform] = []
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)


def _collapse(transforms: Sequence[Transform]) -> list[Transform]:
    """Consecutive resizes are one resize: a model's smaller answer brought back to size must
    not make the original go down and up again (that would blur it)."""
    out: list[Transform] = []
    for t in transforms:
        if t.kind in ("resize", "warp") and out and out[-1].kind == "resize":
            out[-1] = t  # a warp in unit coordinates does not care what size came in
        elif t.kind == "resize" and out and out[-1].kind == "warp":
            out[-1] = Transform("warp", {**out[-1].params, "size": t.params["size"]})
        else:
            out.append(t)
    return out


def _warp(
    image: Image.Image, matrix: Sequence[Sequence[float]], size: Sequence[int]
) -> Image.Image:
    """Apply a unit-coordinate affine map (output → input) with Pillow's bicubic resampling."""
    (a, b, c), (d, e, f) = matrix
    wo, ho = int(size[0]), int(size[1])
    wi, hi = image.size
    # Pillow maps output pixel-corner coordinates to input ones; scale unit ones to both sizes.
    data = (a * wi / wo, b * wi / ho, c * wi, d * hi / wo, e * hi / ho, f * hi)
    return image.transform((wo, ho), Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)


def replay(image: Image.Image, transforms: Sequence[Transform]) -> Image.Image:
    """Apply recorded transforms to `image` (which has the frame the chain started from)."""
    for t in _collapse(transforms):
        p = t.params
        if t.kind == "crop":
            image = image.crop(tuple(p["box"]))
        elif t.kind == "rotate_crop":
            box = p.get("box")
            resample = Image.Resampling(p.get("resample", Image.Resampling.BICUBIC))
            image = rotate_crop(image, p["degrees"], tuple(box) if box else None, resample=resample)
        elif t.kind == "transpose":
            image = image.transpose(Image.Transpose(p["method"]))
        elif t.kind == "resize":
            size = tuple(p["size"])
            if image.size != size:
                image = image.resize(size, Image.Resampling.LANCZOS)
        elif t.kind == "warp":
            image = _warp(image, p["matrix"], p["size"])
        else:
            raise ValueError(f"unknown transform {t.kind!r}")
    return image
