"""The arq task: one queued job run to its end, a restored file or one explained failure.

download (streamed to a temp file in the scratch folder) → `pipeline.restore.restore_image` →
atomic write beside the inbox → record. Transient errors go back to the queue with backoff;
permanent ones leave `<name>.<ext>.failed.txt` where the result would be. An outage of this
process's own Redis or disk is nobody's fault but ours: the job pauses, spends no try and
writes no note (`jobs.outages`).

A chain ending in a clip writes the photo, then the clip beside it (`x.jpg` → `x.mp4`), each
atomically. A clip that could not be made does not undo the photo: the job is done, its clip
step failed with the reason, and `x.mp4.failed.txt` says so to someone who only sees the
folder (an earlier clip, if any, is left alone). A chain that cannot run with the present
settings (a clip model without HF_TOKEN) is refused before anything is downloaded.
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
from redis.asyncio import Redis

from service import formats
from service.config.catalog import Catalog
from service.config.settings import Settings
from service.constants import JOB_MAX_TRIES
from service.errors import (
    ConfigError,
    LocalOutage,
    NotFound,
    PermanentError,
    PhotoRestoreError,
    TransientError,
    from_os,
    from_redis,
)
from service.jobs.outages import (
    MAX_OUTAGE_PAUSE,
    Progress,
    give_back,
    hand_back,
    outage_budget,
    pause_for,
    until_redis,
)
from service.jobs.previews import PREVIEW_EDGE, PreviewStore
from service.jobs.records import JobStore
from service.logs import Trouble, job_context
from service.pipeline.restore import Restored, restore_image
from service.pipeline.runner import ChainRunner
from service.queue import JobQueue, JobRecord
from service.retry import RetryPolicy
from service.storage.base import Storage
from service.storage.paths import parent
from service.watch.rules import NOTE_PERMANENT, NOTE_TEMPORARY, failed_note_for

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
    @property
    def previews(self) -> PreviewStore: ...
    @property
    def scratch(self) -> Path: ...
    @property
    def trouble(self) -> Trouble: ...


def job_retry(base: float) -> RetryPolicy:
    """How the queue retries a job: base, 2×base, 4×base… at most 10 min apart (a server's
    hint up to an hour), JOB_MAX_TRIES runs in all. No jitter: arq spreads jobs already."""
    return RetryPolicy(
        attempts=JOB_MAX_TRIES, base=base, max_delay=600.0, max_wait=math.inf, jitter=0.0
    )


def backoff_seconds(attempt: int, hint: float | None, base: float = 10.0) -> float:
    """Seconds before run `attempt + 1` of a job, the server's hint included."""
    return job_retry(base).delay(attempt, hint)


async def _write_failure_note(
    services: TaskServices, record: JobRecord, reason: str, *, temporary: bool
) -> None:
    kind = (
        "This looks temporary: it will be tried again (a later look, a restart or Retry on "
        "the dashboard), and this note does not stop that."
        if temporary
        else "Retrying would not help: change the file (or the chain) and it is tried again."
    )
    note = (
        f"photo-restore could not restore {record.name}\n\nReason: {reason}\n\n{kind}\n\n"
        f"Chain: {record.chain}\nJob: {record.id}\nWhen: "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n\nThe original was not changed. "
        "This note disappears when a later run succeeds.\n"
        f"{NOTE_TEMPORARY if temporary else NOTE_PERMANENT}\n"
    )
    try:
        await services.storage.makedirs(parent(record.output))
        await services.storage.write_atomic(failed_note_for(record.output), note.encode())
    except (PhotoRestoreError, OSError) as exc:  # the failure is recorded in the job anyway
        log.warning("could not write failure note for %s: %s", record.source, exc)


async def _restore(services: TaskServices, record: JobRecord) -> Restored:
    """Download the original and restore it; the unit of work is the pipeline's."""
    if record.chain not in services.catalog.chains:
        raise PermanentError(f"chain {record.chain!r} is not in models.toml any more")
    chain = services.catalog.chain(record.chain)
    has_token = services.settings.hf_token_value is not None
    missing = services.catalog.missing_for(chain, has_token=has_token)
    if missing and chain.makes_clip:
        raise ConfigError(f"chain {chain.name} cannot run: " + "; ".join(missing))
    progress = Progress(services, record.id)
    try:
        services.scratch.mkdir(parents=True, exist_ok=True)
        scratch = tempfile.TemporaryDirectory(prefix="job-", dir=services.scratch)
    except OSError as exc:
        raise from_os(exc) or exc from exc
    with scratch as tmp:
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
            job_id=record.id,
            edits=record.edits,
            prompt=record.prompt,
            params=record.params,
            fidelity=record.fidelity,
            on_progress=progress.steps,
            intermediate=progress.step,
            on_decoded=progress.source,
            clip=record.clip_options,
            last_try=record.attempts >= JOB_MAX_TRIES,
            before_edge=PREVIEW_EDGE,
        )
    await progress.preview("result", restored.run.image)
    if restored.aligned_before is not None:  # the slider's "before", in the result's frame
        await progress.preview("aligned", restored.aligned_before)
    if restored.damage_mask is not None:  # drawn over that "before" on the review page
        await progress.mask(restored.damage_mask)
    return restored


async def _deliver(services: TaskServices, record: JobRecord, restored: Restored) -> JobRecord:
    """Write the result beside the inbox, drop an old failure note, record the job done."""
    await services.storage.makedirs(parent(record.output))
    entry = await services.storage.write_atomic(record.output, restored.data)
    await services.storage.delete(failed_note_for(record.output))
    clip = await _deliver_clip(services, record, restored)
    changed = [s.name for s in restored.run.steps if s.status not in ("skipped", "pending")]
    log.info(
        "restored %s → %s (%s)",
        record.source,
        record.output,
        ", ".join(changed) or "nothing needed fixing",
    )
    # The result is written: from here on a Redis outage must not undo the work.
    done = await until_redis(
        services.trouble,
        lambda: services.store.update(
            record.id,
            status="done",
            finished=time.time(),
            error=None,
            steps=[s.to_dict() for s in restored.run.steps],
            cost_usd=restored.run.cost_usd,
            review=restored.run.review,
            result_etag=entry.etag,
            size=restored.run.image.size,
            damage_mask=restored.damage_mask is not None,
            **{"note": None, **clip},
        ),
    )
    return done or record


async def _deliver_clip(
    services: TaskServices, record: JobRecord, restored: Restored
) -> dict[str, Any]:
    """Write the clip beside the photo, or the note saying why there is none; what the job
    record says of it (nothing for chains without a clip)."""
    if not services.catalog.chain(record.chain).makes_clip:
        return {}
    target = formats.clip_name(record.output)
    if restored.clip is not None:
        entry = await services.storage.write_atomic(target, restored.clip)
        await services.storage.delete(failed_note_for(target))
        log.info("clip of %s → %s", record.source, target)
        return {"clip": target, "clip_etag": entry.etag}
    failed = [s for s in restored.run.steps if s.kind == "video" and s.status == "failed"]
    reason = failed[-1].note if failed else "the chain made no clip"
    await _write_clip_note(services, record, target, reason)
    return {"clip": None, "clip_etag": None, "note": f"photo restored; no clip: {reason}"}


async def _write_clip_note(
    services: TaskServices, record: JobRecord, target: str, reason: str
) -> None:
    note = (
        f"photo-restore restored {record.name} but could not make its clip\n\n"
        f"Reason: {reason}\n\nThe restored photo is {record.output.rsplit('/', 1)[-1]}. "
        f"Chain: {record.chain}\nJob: {record.id}\nWhen: "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n\nAn earlier clip, if there was one, "
        "was left as it was. This note disappears when a later run makes the clip.\n"
    )
    try:
        await services.storage.write_atomic(failed_note_for(target), note.encode())
    except (PhotoRestoreError, OSError) as exc:  # the job record says it anyway
        log.warning("could not write the clip note for %s: %s", record.source, exc)


async def _fail(
    services: TaskServices, record: JobRecord, reason: str, *, temporary: bool = False
) -> JobRecord | None:
    """The explained end of a job: the reason on the record and in a note beside the inbox."""
    log.warning("failed %s: %s", record.source, reason)
    await _write_failure_note(services, record, reason, temporary=temporary)
    return await until_redis(
        services.trouble,
        lambda: services.store.update(
            record.id, status="failed", finished=time.time(), error=reason
        ),
    )


async def _retry_later(
    services: TaskServices, record: JobRecord, exc: TransientError, attempt: int
) -> JobRecord | None:
    """Queue the job again with backoff (the caller re-raises), or give up after the last try."""
    current = await until_redis(services.trouble, lambda: services.store.get(record.id))
    attempts = current.attempts if current else attempt
    wait = job_retry(services.settings.retry_base_seconds).next_wait(attempts, exc.retry_after)
    if wait is None:
        reason = f"gave up after {attempts} attempts: {exc}"
        return await _fail(services, record, reason, temporary=True)
    await until_redis(
        services.trouble,
        lambda: services.store.update(
            record.id, status="queued", note=f"retrying in {wait:.0f} s: {exc}"
        ),
    )
    raise exc


async def _attempt(
    services: TaskServices, record: JobRecord, attempt: int, kept: list[Restored]
) -> JobRecord | None:
    """One go at the work: done, failed with a note, or an error asking for a retry. A result
    made before an outage is `kept`, so only its delivery is tried again."""
    try:
        if not kept:
            kept.append(await _restore(services, record))
        return await _deliver(services, record, kept[0])
    except LocalOutage:
        raise
    except TransientError as exc:
        return await _retry_later(services, record, exc, attempt)
    except (PermanentError, ConfigError) as exc:
        return await _fail(services, record, str(exc))
    except asyncio.CancelledError:
        # Shutdown or timeout: hand the job back; arq re-queues a cancelled job.
        await asyncio.shield(hand_back(services, record.id, "handed back: the run was stopped"))
        raise
    except Exception as exc:
        outage = from_redis(exc) or from_os(exc)
        if outage is not None:
            raise outage from exc
        log.exception("job %s failed unexpectedly", record.id)
        return await _fail(services, record, f"internal error: {type(exc).__name__}: {exc}")


async def run_restore(services: TaskServices, job_id: str, *, attempt: int = 1) -> JobRecord | None:
    """Run one job to its end state; raises TransientError to ask for a retry."""
    with outage_budget():
        return await _run(services, job_id, attempt)


async def _run(services: TaskServices, job_id: str, attempt: int) -> JobRecord | None:
    record = await until_redis(services.trouble, lambda: services.store.get(job_id))
    if record is None:
        log.warning("job %s has no record; dropping it", job_id)
        return None
    if record.status == "done":
        return record  # the same job twice gives one result
    tries = record.attempts + 1
    started = await until_redis(
        services.trouble,
        lambda: services.store.update(
            job_id,
            status="running",
            started=time.time(),
            attempts=tries,
            error=None,
            note=None,
            review=[],
        ),
    )
    record = started or record
    pause = max(0.2, services.settings.retry_base_seconds / 10)
    kept: list[Restored] = []
    while True:
        try:
            return await _attempt(services, record, attempt, kept)
        except LocalOutage as exc:
            try:
                await pause_for(services, record, exc, pause)
            except LocalOutage:
                await give_back(services, record, exc)
                raise
            pause = min(pause * 2, MAX_OUTAGE_PAUSE)


async def restore_job(ctx: dict[str, Any], job_id: str) -> str:
    """The arq task: waits while the queue is paused, maps transient errors to arq's Retry."""
    services: TaskServices = ctx["services"]
    if await services.queue.is_paused():
        raise Retry(defer=5)
    with job_context(job_id):
        try:
            record = await run_restore(services, job_id, attempt=ctx.get("job_try", 1))
        except LocalOutage as exc:
            _count(ctx, "retried")  # no Redis call here: Redis may be the one away
            raise Retry(defer=MAX_OUTAGE_PAUSE) from exc
        except TransientError as exc:
            current = await until_redis(services.trouble, lambda: services.store.get(job_id))
            log.warning("transient failure, will retry: %s", exc)
            _count(ctx, "retried")
            raise Retry(
                defer=backoff_seconds(
                    current.attempts if current else 1,
                    exc.retry_after,
                    services.settings.retry_base_seconds,
                )
            ) from exc
    status = record.status if record else "missing"
    _count(ctx, status)
    return status


def _count(ctx: dict[str, Any], outcome: str) -> None:
    """This worker's own tally for its health line: a failed job is not a completed one."""
    tally: dict[str, int] = ctx.setdefault("tally", {})
    tally[outcome] = tally.get(outcome, 0) + 1
