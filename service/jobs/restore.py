"""The restore task: one scan in, one restored file (or one explained failure) out.

download (streamed to a temp file) → decode & validate → chain → encode (EXIF, ICC,
provenance) → atomic write beside the inbox → record. Transient errors go back to the queue
with backoff; permanent ones leave `<name>.<ext>.failed.txt` where the result would be.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arq import Retry
from PIL import Image

from service.config.catalog import Chain, Step
from service.config.settings import Settings
from service.constants import JOB_MAX_TRIES
from service.errors import ConfigError, NotFound, PermanentError, TransientError
from service.jobs.previews import make_preview, save_preview
from service.jobs.records import JobRecord
from service.jobs.services import Services
from service.logs import job_context
from service.pipeline import imageio, registry, transforms
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

log = logging.getLogger(__name__)
_PLACEHOLDER = Image.new("L", (1, 1))
KEEP_OP = "keep_original"


@dataclass
class Restored:
    """The encoded result and how it was made."""

    data: bytes
    run: RunResult
    decoded: Decoded


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
    job_id: str | None = None,
    edits: Sequence[dict[str, Any]] = (),
    prompt: str | None = None,
    params: dict[str, Any] | None = None,
    fidelity: str | None = None,
    on_progress: ProgressCallback | None = None,
    intermediate: Any = None,
    on_decoded: Callable[[Image.Image], Awaitable[None]] | None = None,
) -> Restored:
    """Decode, run the chain and encode; shared by the worker and `photo-restore restore`."""
    decoded = await asyncio.to_thread(imageio.decode, path, max_pixels=settings.max_pixels)
    if on_decoded is not None:
        await on_decoded(decoded.image)
    # Hand the pixels to the runner and keep only the metadata: holding the decoded scan for
    # the whole chain would keep a second full-size copy alive (135 MB for a 600-dpi print).
    size = decoded.size
    image, decoded.image = decoded.image, _PLACEHOLDER
    ctx = RunContext(
        op_context=OpContext(
            original_size=size, source_format=decoded.format, extra={"chain": chain.name}
        ),
        job_id=job_id or "",
        prompt=prompt,
        params=dict(params or {}),
        fidelity=fidelity,
        intermediate=intermediate,
    )
    # "Keep the original here" masks apply after the chain, to the original replayed through
    # the same crops and turns; only then is the original kept alive during the run.
    before = [e for e in edits if e.get("op") != KEEP_OP]
    keeps = [e for e in edits if e.get("op") == KEEP_OP]
    original = image if keeps else None
    with transforms.recording() as frame_log:
        run = await runner.run(image, chain, ctx, edits=edit_steps(before), on_progress=on_progress)
    del image
    if original is not None:
        await _keep_original(run, original, frame_log, keeps, intermediate)
        del original
    data = await asyncio.to_thread(
        imageio.encode,
        run.image,
        decoded,
        fmt=chain.output_format,
        provenance=provenance(chain, run, job_id),
    )
    return Restored(data=data, run=run, decoded=decoded)


async def _keep_original(
    run: RunResult,
    original: Image.Image,
    frame_log: list[transforms.Transform],
    keeps: Sequence[dict[str, Any]],
    intermediate: Any = None,
) -> None:
    """Put the aligned original back inside each painted mask; one timeline step each."""
    aligned = await asyncio.to_thread(transforms.replay, original, frame_log)
    op = registry.get(KEEP_OP)
    for edit in keeps:
        started = time.perf_counter()
        ctx = OpContext(original_size=aligned.size, extra={ALIGNED_ORIGINAL: aligned})
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


def backoff_seconds(attempt: int, hint: float | None, base: float = 10.0) -> float:
    """Exponential backoff (base, 2×base, 4×base…, at most 10 min), or the server's own hint."""
    if hint is not None and hint > 0:
        return min(hint, 3600.0)
    return float(min(600.0, base * 2 ** max(0, attempt - 1)))


async def _write_failure_note(services: Services, record: JobRecord, reason: str) -> None:
    note = (
        f"photo-restore could not restore {record.name}\n\nReason: {reason}\n\n"
        f"Chain: {record.chain}\nJob: {record.id}\nWhen: "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n\nThe original was not changed. "
        "This note disappears when a later run succeeds.\n"
    )
    try:
        parent = record.output.rsplit("/", 1)[0] or "/"
        await services.storage.makedirs(parent)
        await services.storage.write_atomic(record.output + ".failed.txt", note.encode())
    except Exception as exc:  # the failure is recorded in the job either way
        log.warning("could not write failure note for %s: %s", record.source, exc)


async def run_restore(services: Services, job_id: str, *, attempt: int = 1) -> JobRecord | None:
    """Run one job to its end state; raises TransientError to ask for a retry."""
    store = services.store
    record = await store.get(job_id)
    if record is None:
        log.warning("job %s has no record; dropping it", job_id)
        return None
    if record.status == "done":
        return record  # the same job twice gives one result
    chain = (
        services.catalog.chain(record.chain) if record.chain in services.catalog.chains else None
    )
    record = (
        await store.update(
            job_id,
            status="running",
            started=time.time(),
            attempts=record.attempts + 1,
            error=None,
            note=None,
        )
        or record
    )

    async def progress(steps: list[Any]) -> None:
        await store.update(job_id, steps=[s.to_dict() for s in steps])

    async def source_preview(image: Image.Image) -> None:
        data = await asyncio.to_thread(make_preview, image)
        await save_preview(services.redis, job_id, "source", data)

    async def intermediate(index: int, image: Any) -> None:
        data = await asyncio.to_thread(make_preview, image)
        await save_preview(services.redis, job_id, str(index), data)

    try:
        if chain is None:
            raise PermanentError(f"chain {record.chain!r} is not in models.toml any more")
        with tempfile.TemporaryDirectory(prefix="photo-restore-") as tmp:
            local = Path(tmp) / "original"
            try:
                await services.storage.download(record.source, local)
            except NotFound:
                raise PermanentError("the original is gone from the inbox") from None
            restored = await restore_image(
                local,
                chain,
                services.runner,
                services.settings,
                job_id=job_id,
                edits=record.edits,
                prompt=record.prompt,
                params=record.params,
                fidelity=record.fidelity,
                on_progress=progress,
                intermediate=intermediate,
                on_decoded=source_preview,
            )
            result_preview = await asyncio.to_thread(make_preview, restored.run.image)
        await save_preview(services.redis, job_id, "result", result_preview)
        parent = record.output.rsplit("/", 1)[0] or "/"
        await services.storage.makedirs(parent)
        entry = await services.storage.write_atomic(record.output, restored.data)
        await services.storage.delete(record.output + ".failed.txt")
        changed = [s.name for s in restored.run.steps if s.status not in ("skipped", "pending")]
        log.info(
            "restored %s → %s (%s)",
            record.source,
            record.output,
            ", ".join(changed) or "nothing needed fixing",
        )
        return await store.update(
            job_id,
            status="done",
            finished=time.time(),
            error=None,
            note=None,
            steps=[s.to_dict() for s in restored.run.steps],
            cost_usd=restored.run.cost_usd,
            result_etag=entry.etag,
            size=restored.run.image.size,
        )
    except TransientError as exc:
        current = await store.get(job_id)
        attempts = current.attempts if current else attempt
        if attempts >= JOB_MAX_TRIES:
            reason = f"gave up after {attempts} attempts: {exc}"
            log.warning("failed %s: %s", record.source, reason)
            await _write_failure_note(services, record, reason)
            return await store.update(job_id, status="failed", finished=time.time(), error=reason)
        delay = backoff_seconds(attempts, exc.retry_after, services.settings.retry_base_seconds)
        await store.update(job_id, status="queued", note=f"retrying in {delay:.0f} s: {exc}")
        raise
    except (PermanentError, ConfigError) as exc:
        log.warning("failed %s: %s", record.source, exc)
        await _write_failure_note(services, record, str(exc))
        return await store.update(job_id, status="failed", finished=time.time(), error=str(exc))
    except asyncio.CancelledError:
        # Shutdown: hand the job back; arq re-queues a cancelled job for another worker.
        await asyncio.shield(
            store.update(job_id, status="queued", note="handed back: worker shutting down")
        )
        raise
    except Exception as exc:
        log.exception("job %s failed unexpectedly", job_id)
        reason = f"internal error: {type(exc).__name__}: {exc}"
        await _write_failure_note(services, record, reason)
        return await store.update(job_id, status="failed", finished=time.time(), error=reason)


async def restore_job(ctx: dict[str, Any], job_id: str) -> str:
    """The arq task: waits while the queue is paused, maps transient errors to arq's Retry."""
    services: Services = ctx["services"]
    if await services.queue.is_paused():
        raise Retry(defer=5)
    with job_context(job_id):
        try:
            record = await run_restore(services, job_id, attempt=ctx.get("job_try", 1))
        except TransientError as exc:
            current = await services.store.get(job_id)
            log.warning("transient failure, will retry: %s", exc)
            raise Retry(
                defer=backoff_seconds(
                    current.attempts if current else 1,
                    exc.retry_after,
                    services.settings.retry_base_seconds,
                )
            ) from exc
    return record.status if record else "missing"
