"""`JobQueue` on arq: the record is written first, then the arq job under the same id.

The protocol and the request type live in `service.queue`; this is the only module that
knows arq's own keys (to requeue a finished job under its old id).
"""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.constants import (
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

from service.constants import QUEUE_NAME, QUEUE_PAUSED_KEY, RESTORE_FUNCTION
from service.jobs.records import JobStore
from service.queue import JobRecord, JobRequest


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
