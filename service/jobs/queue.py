"""The queue behind a small interface of ours; arq on Redis is the implementation.

The web side and the watcher only ever call `JobQueue.submit`; tests of those need no worker
(`MemoryJobQueue`). Job ids are derived from (file identity, content version, chain, variant),
so the same file at the same version is never queued twice for the same chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from arq.connections import ArqRedis
from arq.constants import (
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

from service.constants import QUEUE_NAME, QUEUE_PAUSED_KEY
from service.jobs.records import JobRecord, JobStore

RESTORE_FUNCTION = "restore_job"


def job_id_for(identity: str, version: str, chain: str, variant: str = "") -> str:
    """Deterministic id: the same file version and chain always give the same id."""
    text = json.dumps([identity, version, chain, variant], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class JobRequest:
    """What to restore; `variant` distinguishes a re-run with other edits or parameters."""

    source: str
    output: str
    chain: str
    identity: str
    version: str
    origin: str = "watcher"
    variant: str = ""
    edits: list[dict[str, Any]] = field(default_factory=list)
    prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    fidelity: str | None = None
    parent: str | None = None

    @property
    def job_id(self) -> str:
        """This request's deterministic id."""
        return job_id_for(self.identity, self.version, self.chain, self.variant)

    def record(self) -> JobRecord:
        """A fresh queued record for this request."""
        return JobRecord(
            id=self.job_id,
            source=self.source,
            output=self.output,
            chain=self.chain,
            identity=self.identity,
            version=self.version,
            origin=self.origin,
            edits=list(self.edits),
            prompt=self.prompt,
            params=dict(self.params),
            fidelity=self.fidelity,
            parent=self.parent,
        )


class JobQueue(Protocol):
    """What producers of work need."""

    async def submit(self, request: JobRequest) -> JobRecord | None:
        """Queue a job; None when that exact job already exists (nothing is queued twice)."""
        ...

    async def requeue(self, job_id: str) -> bool:
        """Queue an existing (failed) job again under the same id."""
        ...

    async def depth(self) -> int:
        """Jobs waiting."""
        ...

    async def set_paused(self, paused: bool) -> None:
        """Pause or resume taking new jobs (running ones finish)."""
        ...

    async def is_paused(self) -> bool:
        """Whether the queue is paused."""
        ...


class ArqJobQueue:
    """JobQueue on arq: the record is created first, then the arq job with the same id."""

    def __init__(self, pool: ArqRedis, store: JobStore) -> None:
        self.pool = pool
        self.store = store

    async def submit(self, request: JobRequest) -> JobRecord | None:
        """Create the record (NX) and enqueue; duplicates return None."""
        record = request.record()
        if not await self.store.create(record):
            return None
        await self._enqueue(record.id)
        return record

    async def _enqueue(self, job_id: str) -> None:
        # arq refuses a second job with an id it still knows; a finished job's result key is
        # dropped at once (keep_result=0 in the worker), so a deliberate requeue goes through.
        await self.pool.enqueue_job(
            RESTORE_FUNCTION, job_id, _job_id=job_id, _queue_name=QUEUE_NAME
        )

    async def requeue(self, job_id: str) -> bool:
        """Put a failed or finished job back in the queue."""
        record = await self.store.get(job_id)
        if record is None or record.status in ("queued", "running"):
            return False
        if await self.pool.exists(in_progress_key_prefix + job_id):
            return False
        # Leftovers of the previous run (kept result, retry counter) would make arq refuse it.
        await self.pool.delete(
            job_key_prefix + job_id, result_key_prefix + job_id, retry_key_prefix + job_id
        )
        await self.pool.zrem(QUEUE_NAME, job_id)
        await self.store.update(
            job_id, status="queued", error=None, note="queued again", attempts=0, finished=None
        )
        await self._enqueue(job_id)
        return True

    async def depth(self) -> int:
        """Jobs in arq's queue."""
        return int(await self.pool.zcard(QUEUE_NAME))

    async def set_paused(self, paused: bool) -> None:
        """Workers look at this flag before starting a job."""
        if paused:
            await self.pool.set(QUEUE_PAUSED_KEY, "1")
        else:
            await self.pool.delete(QUEUE_PAUSED_KEY)

    async def is_paused(self) -> bool:
        """Whether the pause flag is set."""
        return bool(await self.pool.exists(QUEUE_PAUSED_KEY))


class MemoryJobQueue:
    """An in-memory twin for tests of producers: records what was submitted."""

    def __init__(self, store: JobStore | None = None) -> None:
        self.store = store
        self.submitted: list[JobRequest] = []
        self.ids: set[str] = set()
        self.paused = False

    async def submit(self, request: JobRequest) -> JobRecord | None:
        """Remember the request unless its id was seen."""
        if request.job_id in self.ids:
            return None
        record = request.record()
        if self.store is not None and not await self.store.create(record):
            return None
        self.ids.add(request.job_id)
        self.submitted.append(request)
        return record

    async def requeue(self, job_id: str) -> bool:
        """Record the requeue."""
        self.ids.add(job_id)
        return True

    async def depth(self) -> int:
        """Submitted count."""
        return len(self.submitted)

    async def set_paused(self, paused: bool) -> None:
        """Set the flag."""
        self.paused = paused

    async def is_paused(self) -> bool:
        """The flag."""
        return self.paused
