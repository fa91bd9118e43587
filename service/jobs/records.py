"""Job records in Redis: what the dashboard lists and what `photo-restore` reports.

One JSON value per job plus sorted sets (score = creation time) for the whole history and
each status, so a page of the list costs one ZREVRANGE and one MGET however long the history.
Every change is published on a channel the dashboard turns into server-sent events.
"""

from __future__ import annotations

import builtins
import functools
import json
import time
from dataclasses import asdict
from typing import Any

from redis.asyncio import Redis

from service import metrics
from service.constants import (
    JOB_BY_SOURCE,
    JOB_EVENTS_CHANNEL,
    JOB_KEY,
    JOBS_ALL,
    JOBS_BY_STATUS,
    JOBS_TO_REVIEW,
)
from service.queue import STATUSES, JobRecord


@functools.lru_cache(maxsize=4096)
def _decode_shared(raw: bytes) -> JobRecord:
    """Decoded records of list pages, shared by value: a page of 50 mostly unchanged jobs is
    then a hash lookup per row. Callers must treat them as read-only."""
    return JobRecord.from_json(raw)


class JobStore:
    """Reads and writes job records; the only code that knows their Redis layout."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def create(self, record: JobRecord) -> bool:
        """Store a new record; False when a record with this id already exists."""
        payload = json.dumps(asdict(record))
        created = await self.redis.set(JOB_KEY + record.id, payload, nx=True)
        if not created:
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(JOBS_ALL, {record.id: record.created})
        pipe.zadd(JOBS_BY_STATUS + record.status, {record.id: record.created})
        if record.to_review:
            pipe.zadd(JOBS_TO_REVIEW, {record.id: record.created})
        pipe.set(JOB_BY_SOURCE + record.source, record.id)
        pipe.publish(JOB_EVENTS_CHANNEL, json.dumps({"id": record.id, "status": record.status}))
        await pipe.execute()
        metrics.job_state_changed(None, record.status)
        return True

    async def get(self, job_id: str) -> JobRecord | None:
        """The record, or None."""
        raw = await self.redis.get(JOB_KEY + job_id)
        return JobRecord.from_json(raw) if raw else None

    async def save(self, record: JobRecord, *, old_status: str | None = None) -> None:
        """Write back a changed record, keep the status indexes right and announce it."""
        record.updated = time.time()
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(JOB_KEY + record.id, json.dumps(asdict(record)))
        if old_status and old_status != record.status:
            pipe.zrem(JOBS_BY_STATUS + old_status, record.id)
        pipe.zadd(JOBS_BY_STATUS + record.status, {record.id: record.created})
        # "to review" (done, no decision yet) is an index of its own so that filter is a page
        # read too, not a walk through the history.
        if record.to_review:
            pipe.zadd(JOBS_TO_REVIEW, {record.id: record.created})
        else:
            pipe.zrem(JOBS_TO_REVIEW, record.id)
        pipe.publish(
            JOB_EVENTS_CHANNEL,
            json.dumps(
                {
                    "id": record.id,
                    "status": record.status,
                    "steps": [
                        {"label": s.get("label"), "status": s.get("status")} for s in record.steps
                    ],
                }
            ),
        )
        await pipe.execute()
        if old_status and old_status != record.status:
            metrics.job_state_changed(old_status, record.status)

    async def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        """Read, change the given fields, save."""
        record = await self.get(job_id)
        if record is None:
            return None
        old = record.status
        for key, value in changes.items():
            setattr(record, key, value)
        await self.save(record, old_status=old)
        return record

    async def latest_for(self, source: str) -> JobRecord | None:
        """The newest job of a source file."""
        job_id = await self.redis.get(JOB_BY_SOURCE + source)
        return (
            await self.get(job_id.decode() if isinstance(job_id, bytes) else job_id)
            if job_id
            else None
        )

    async def count(self, status: str | None = None) -> int:
        """How many jobs (of a status)."""
        key = JOBS_ALL if status is None else JOBS_BY_STATUS + status
        return int(await self.redis.zcard(key))

    async def counts(self) -> dict[str, int]:
        """Jobs per status, plus the total."""
        pipe = self.redis.pipeline(transaction=False)
        for status in STATUSES:
            pipe.zcard(JOBS_BY_STATUS + status)
        pipe.zcard(JOBS_ALL)
        values = await pipe.execute()
        out = dict(zip(STATUSES, (int(v) for v in values[:-1]), strict=True))
        out["all"] = int(values[-1])
        return out

    async def list(
        self,
        *,
        status: str | None = None,
        query: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[JobRecord], int]:
        """A page of records, newest first, and the total matching."""
        key = JOBS_ALL if status in (None, "", "all") else JOBS_BY_STATUS + status
        if status == "review":
            key = JOBS_TO_REVIEW
        if not query:
            total = int(await self.redis.zcard(key))
            ids = await self.redis.zrevrange(key, offset, offset + limit - 1)
            return await self._many(ids), total
        # Filtered views walk the index in batches; only searches pay for the whole history.
        needle = (query or "").casefold()
        matched: list[JobRecord] = []
        total = 0
        start = 0
        batch = 500
        while True:
            ids = await self.redis.zrevrange(key, start, start + batch - 1)
            if not ids:
                break
            for rec in await self._many(ids):
                if needle and needle not in rec.source.casefold():
                    continue
                if offset <= total < offset + limit:
                    matched.append(rec)
                total += 1
            start += batch
        return matched, total

    async def _many(self, ids: builtins.list[Any]) -> builtins.list[JobRecord]:
        if not ids:
            return []
        raws = await self.redis.mget(
            [JOB_KEY + (i.decode() if isinstance(i, bytes) else i) for i in ids]
        )
        return [_decode_shared(bytes(r)) for r in raws if r]

    async def ids_with_status(self, status: str) -> builtins.list[str]:
        """Every job id of a status (for bulk retry)."""
        ids = await self.redis.zrange(JOBS_BY_STATUS + status, 0, -1)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]
