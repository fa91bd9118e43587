"""The arq task: one queued job run to its end, a restored file or one explained failure.

download (streamed to a temp file) → `pipeline.restore.restore_image` → atomic write beside
the inbox → record. Transient errors go back to the queue with backoff; permanent ones leave
`<name>.<ext>.failed.txt` where the result would be.
"""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from arq import Retry
from PIL import Image
from redis.asyncio import Redis

from service import formats
from service.config.catalog import Catalog
from service.config.settings import Settings
from service.constants import JOB_MAX_TRIES
from service.errors import ConfigError, NotFound, PermanentError, TransientError
from service.jobs.previews import make_preview, save_preview
from service.jobs.records import JobStore
from service.logs import job_context
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner
from service.queue import JobQueue, JobRecord
from service.retry import RetryPolicy
from service.storage.base import Storage

log = logging.getLogger(__name__)


class TaskServices(Protocol):
    """What the task needs of its process; `service.runtime.Services` is one."""

    @property
    def settings(self) -> Settings: ...
    @property
    def catalog(self) -> Catalog: ...
    @property
    def redis(self) -> Redis: ...
    @property
    def store(self) -> JobStore: ...
    @property
    def queue(self) -> JobQueue: ...
    @property
    def storage(self) -> Storage: ...
    @property
    def runner(self) -> ChainRunner: ...


def job_retry(base: float) -> RetryPolicy:
    """How the queue retries a job: base, 2×base, 4×base… at most 10 min apart (a server's
    hint up to an hour), JOB_MAX_TRIES runs in all. No jitter: arq spreads jobs already."""
    return RetryPolicy(
        attempts=JOB_MAX_TRIES, base=base, max_delay=600.0, max_wait=math.inf, jitter=0.0
    )


def backoff_seconds(attempt: int, hint: float | None, base: float = 10.0) -> float:
    """Seconds before run `attempt + 1` of a job, the server's hint included."""
    return job_retry(base).delay(attempt, hint)


async def _write_failure_note(services: TaskServices, record: JobRecord, reason: str) -> None:
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


async def run_restore(services: TaskServices, job_id: str, *, attempt: int = 1) -> JobRecord | None:
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
                fmt=formats.for_name(record.output),
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
    services: TaskServices = ctx["services"]
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
