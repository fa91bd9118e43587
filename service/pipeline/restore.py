"""One scan restored in memory: decode & validate → hand edits and the chain → encode.

The unit of work both the worker's task and `photo-restore restore` run; it knows nothing of
queues, job records or where the file came from. EXIF, ICC and a provenance note travel into
the result, and "keep the original here" masks are applied last, to the original replayed
through the same crops and turns as the result. A chain ending in a clip step also answers
the clip (`Restored.clip`, MP4 bytes, or None when its step failed); the clip is made from the
photo as written, masks included. On request, a small "before" in the result's frame comes back
too (`aligned`), for a slider that compares like with like, and with it, when the damage
detector left its mask (`handoff.DAMAGE_MASK`), that mask at the same size, for the review
page to draw over that "before" and the user to correct (the `damage_mask` hand edit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from service.config.catalog import Chain, Step
from service.config.settings import Settings
from service.errors import ConfigError
from service.pipeline import aligned, handoff, imageio, registry, transforms
from service.pipeline.imageio import Decoded
from service.pipeline.ops.keep import ALIGNED_ORIGINAL
from service.pipeline.registry import OpContext
from service.pipeline.runner import (
    ChainRunner,
    ProgressCallback,
    RunContext,
    RunResult,
    StepRecord,
)

_PLACEHOLDER = Image.new("L", (1, 1))
KEEP_OP = "keep_original"


@dataclass
class Restored:
    """The encoded result and how it was made."""

    data: bytes
    run: RunResult
    decoded: Decoded
    aligned_before: Image.Image | None = None  # the original in the result's frame, small
    damage_mask: Image.Image | None = None  # the detector's mask, the size of aligned_before

    @property
    def clip(self) -> bytes | None:
        """The clip made beside the photo, when the chain makes one and its step succeeded."""
        return self.run.clip


def edit_steps(edits: Sequence[dict[str, Any]]) -> list[Step]:
    """Hand edits from the dashboard as local steps run before the chain."""
    steps = []
    for edit in edits:
        op = str(edit.get("op", ""))
        steps.append(
            Step(kind="local", name=op, params=dict(edit.get("params") or {}), title=f"edit: {op}")
        )
    return steps


def provenance(chain: Chain, run: RunResult, job_id: str | None) -> dict[str, Any]:
    """What made this file, stored inside it."""
    return {
        "software": "photo-restore",
        "chain": chain.name,
        "job": job_id,
        "steps": [
            {
                "step": s.label,
                "status": s.status,
                **({"provider": s.provider} if s.provider else {}),
                **({"model": s.model} if s.model else {}),
            }
            for s in run.steps
        ],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


async def restore_image(
    path: Path,
    chain: Chain,
    runner: ChainRunner,
    settings: Settings,
    *,
    fmt: str | None = None,
    job_id: str | None = None,
    edits: Sequence[dict[str, Any]] = (),
    prompt: str | None = None,
    params: dict[str, Any] | None = None,
    fidelity: str | None = None,
    on_progress: ProgressCallback | None = None,
    intermediate: Any = None,
    on_decoded: Callable[[Image.Image], Awaitable[None]] | None = None,
    clip: Mapping[str, Any] | None = None,
    last_try: bool = True,
    before_edge: int | None = None,
) -> Restored:
    """Decode, run the chain and encode; shared by the worker and `photo-restore restore`.

    `fmt` is the format to write, the one the result's name says (`formats.for_name`); None
    keeps the scan's own format where it can be written (else PNG, see `formats.writable`).
    `clip` holds a re-run's choices for the clip step (see `RunContext.clip`); `last_try`
    says whether a transient failure of that step may still ask for a retry. With
    `before_edge`, `aligned_before` is the original in the result's frame (`aligned`), and
    `damage_mask` the detector's mask at its size, when the run made one.
    """
    if chain.unresolved:
        raise ConfigError(f"chain {chain.name!r} runs {chain.restore_with!r} first: resolve it")
    decoded = await asyncio.to_thread(imageio.decode, path, max_pixels=settings.max_pixels)
    if on_decoded is not None:
        await on_decoded(decoded.image)
    # Hand the pixels to the runner, keep the metadata: held here, the scan would stay alive
    # through the chain (135 MB at 600 dpi) and the merge could not write into its memory.
    pixels, decoded.image = [decoded.image], _PLACEHOLDER
    small = None
    if before_edge is not None:
        small = await asyncio.to_thread(aligned.proxy, pixels[0], 2 * before_edge)
    ctx = RunContext(
        op_context=_op_context(chain, decoded),
        job_id=job_id or "",
        prompt=prompt,
        params=dict(params or {}),
        fidelity=fidelity,
        intermediate=intermediate,
        clip=dict(clip or {}),
        last_try=last_try,
    )
    run, frame_log = await _run(pixels, chain, runner, ctx, edits, on_progress)
    mask = await _mask_view(ctx.op_context, run.image.size, before_edge)
    before_image = await _aligned_before(small, frame_log, run.image.size, before_edge)
    data = await asyncio.to_thread(
        imageio.encode,
        run.image,
        decoded,
        fmt=fmt or chain.output_format,
        provenance=provenance(chain, run, job_id),
    )
    return Restored(data, run, decoded, aligned_before=before_image, damage_mask=mask)


def _op_context(chain: Chain, decoded: Decoded) -> OpContext:
    return OpContext(
        original_size=decoded.size, source_format=decoded.format, extra={"chain": chain.name}
    )


async def _run(
    pixels: list[Image.Image],
    chain: Chain,
    runner: ChainRunner,
    ctx: RunContext,
    edits: Sequence[dict[str, Any]],
    on_progress: ProgressCallback | None,
) -> tuple[RunResult, list[transforms.Transform]]:
    """Hand edits, the chain, then "keep the original here" masks (to the original replayed
    through the same crops and turns; only then is the original kept alive during the run).
    With masks, a clip step waits for them: the clip is of the photo as it will be written.

    The scan is popped from `pixels` into the runner: no variable of ours names it while the
    chain runs, so the merge after a model step may write its result into the scan's memory.
    Also answers the frame log of the photo's steps."""
    before = [e for e in edits if e.get("op") != KEEP_OP]
    keeps = [e for e in edits if e.get("op") == KEEP_OP]
    original = [pixels[0]] if keeps else []  # a list, so the masks' step can let go of it
    clip_last = chain.makes_clip and bool(keeps)
    photo_chain = replace(chain, steps=chain.steps[:-1]) if clip_last else chain
    with transforms.recording() as frame_log:
        hand = edit_steps(before)
        run = await runner.run(pixels.pop(), photo_chain, ctx, edits=hand, on_progress=on_progress)
    if original:
        await _keep_original(run, original, frame_log, keeps, ctx.intermediate)
    if clip_last:
        await _clip_after_masks(run, chain, runner, ctx, on_progress)
    return run, frame_log


async def _aligned_before(
    small: aligned.Proxy | None,
    frame_log: list[transforms.Transform],
    size: tuple[int, int],
    edge: int | None,
) -> Image.Image | None:
    """The reduced original through the run's frame changes, the result's frame fitted."""
    if small is None or edge is None:
        return None
    out_size = aligned.preview_size(size, edge)
    return await asyncio.to_thread(aligned.replay_small, small, frame_log, out_size)


async def _mask_view(
    op_context: OpContext, size: tuple[int, int], edge: int | None
) -> Image.Image | None:
    """The detector's mask, taken out of the run's context (at full size it would outlive the
    run), fitted to the aligned "before" of a result of `size`; None without one."""
    mask = handoff.damage_mask(op_context)
    op_context.extra.pop(handoff.DAMAGE_MASK, None)
    if mask is None or edge is None:
        return None
    return await asyncio.to_thread(aligned.mask_view, mask, aligned.preview_size(size, edge))


async def _clip_after_masks(
    run: RunResult,
    chain: Chain,
    runner: ChainRunner,
    ctx: RunContext,
    on_progress: ProgressCallback | None,
) -> None:
    """The chain's clip step, run on the masked photo; its record joins the run's."""
    done = list(run.steps)

    async def progress(records: list[StepRecord]) -> None:
        for offset, record in enumerate(records):
            record.index = len(done) + offset
        if on_progress is not None:
            await on_progress(done + records)

    clip_run = await runner.run(
        run.image, replace(chain, steps=chain.steps[-1:]), ctx, on_progress=progress
    )
    run.steps.extend(clip_run.steps)
    run.clip = clip_run.clip


async def _keep_original(
    run: RunResult,
    original: list[Image.Image],
    frame_log: list[transforms.Transform],
    keeps: Sequence[dict[str, Any]],
    intermediate: Any = None,
) -> None:
    """Put the original, replayed into the result's frame, back inside each painted mask; one
    timeline step each. The original itself (taken from `original`) is let go once replayed."""
    lined_up = await asyncio.to_thread(transforms.replay, original.pop(), frame_log)
    op = registry.get(KEEP_OP)
    for edit in keeps:
        started = time.perf_counter()
        ctx = OpContext(original_size=lined_up.size, extra={ALIGNED_ORIGINAL: lined_up})
        out = await asyncio.to_thread(op.func, run.image, ctx, **dict(edit.get("params") or {}))
        run.steps.append(
            StepRecord(
                index=len(run.steps),
                name=KEEP_OP,
                kind="local",
                label="edit: keep the original here",
                status="skipped" if out is run.image else "done",
                started_at=time.time(),
                duration=time.perf_counter() - started,
            )
        )
        run.image = out
        if intermediate is not None and run.steps[-1].status == "done":
            await intermediate(run.steps[-1].index, out)
