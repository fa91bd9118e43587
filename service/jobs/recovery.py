"""Running jobs name the worker that runs them, so the jobs of a worker that died go back to
the queue at once instead of after arq's in-progress key expires (the job timeout, 15 min).

Each worker holds a heartbeat lease (`service.lease.Lease` under `WORKER_LEASE_KEY + token`,
renewed every third of its time to live) and, while it runs a job, an entry
`RUNNING_JOBS_KEY[job id] = <its owner>`. Any worker, at start and then with every heartbeat,
looks at those entries: a job whose owner is gone (same host: pid dead or reused; elsewhere:
heartbeat lapsed) is handed back — arq's in-progress mark removed, the job due now, its record
"queued" with a note naming the worker that died. The restore itself is idempotent (a done job
is not redone, a result is written atomically), so a hand-back never makes two results.
"""

from __future__ import annotations

import logging
import secrets
import time

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix

from service.constants import (
    QUEUE_NAME,
    RESTORE_FUNCTION,
    RUNNING_JOBS_KEY,
    WORKER_LEASE_KEY,
    WORKER_LEASE_SECONDS,
)
from service.jobs.records import JobStore
from service.lease import Lease, Owner

log = logging.getLogger(__name__)


def worker_lease(redis: ArqRedis, ttl: float = WORKER_LEASE_SECONDS) -> Lease:
    """This worker's heartbeat: a lease whose key carries its own token."""
    token = secrets.token_hex(6)
    return Lease(redis, WORKER_LEASE_KEY + token, ttl, token=token)


class JobLeases:
    """Which worker runs which job, and the hand-back of jobs whose worker is gone."""

    def __init__(self, pool: ArqRedis, store: JobStore, lease: Lease) -> None:
        self.pool = pool
        self.store = store
        self.lease = lease

    async def started(self, job_id: str) -> None:
        """This worker runs `job_id` now."""
        await self.pool.hset(RUNNING_JOBS_KEY, job_id, self.lease.value)

    async def finished(self, job_id: str) -> None:
        """This worker is done with `job_id` (whatever the outcome)."""
        await self.pool.hdel(RUNNING_JOBS_KEY, job_id)

    async def _alive(self, owner: Owner) -> bool:
        if owner.token == self.lease.owner.token:
            return True
        if owner.is_gone():
            return False
        return bool(await self.pool.exists(WORKER_LEASE_KEY + owner.token))

    async def recover(self) -> list[str]:
        """Hand back every running job whose worker is gone; their ids."""
        entries = await self.pool.hgetall(RUNNING_JOBS_KEY)
        handed: dict[str, list[str]] = {}
        verdicts: dict[bytes, bool] = {}
        for raw_id, raw_owner in entries.items():
            owner = Owner.decode(raw_owner)
            if owner is None:
                continue
            if raw_owner not in verdicts:
                verdicts[raw_owner] = await self._alive(owner)
            if verdicts[raw_owner]:
                continue
            job_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            if await self._hand_back(job_id, owner):
                handed.setdefault(owner.process, []).append(job_id)
        for process, jobs in handed.items():
            log.warning(
                "handed back %d job(s) of the stopped worker %s: %s", len(jobs), process, jobs
            )
        return [job for jobs in handed.values() for job in jobs]

    async def _hand_back(self, job_id: str, owner: Owner) -> bool:
        """Free one job of a dead worker; False when there was nothing left to hand back."""
        # Only the first to delete the entry hands the job back: recoveries may run at once.
        if not await self.pool.hdel(RUNNING_JOBS_KEY, job_id):
            return False
        record = await self.store.get(job_id)
        await self.pool.delete(in_progress_key_prefix + job_id)
        if record is None or record.status in ("done", "failed"):
            return False
        if await self.pool.exists(job_key_prefix + job_id):
            await self.pool.zadd(QUEUE_NAME, {job_id: time.time() * 1000})
        else:  # arq forgot it (a Redis restored from an older snapshot): queue it anew
            await self.pool.enqueue_job(
                RESTORE_FUNCTION, job_id, _job_id=job_id, _queue_name=QUEUE_NAME
            )
        await self.store.update(
            job_id,
            status="queued",
            note=f"handed back: its worker {owner.process} stopped while running it",
        )
        return True
