"""Riding out this process's own outages inside a job: a Redis that is away or refuses writes,
a disk that is full (`service.errors.LocalOutage`).

The job pauses where it is and goes on when the resource is back: no note, no try spent.
Work already done is not thrown away for a Redis briefly gone — what is only for show
(progress, previews) is skipped meanwhile, and what must be recorded waits. One run waits at
most `OUTAGE_BUDGET`, well inside arq's job timeout (which would end it as failed), then hands
itself back to the queue, still not counting as a try.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol, TypeVar

from PIL import Image
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.constants import JOB_TIMEOUT_SECONDS
from service.errors import LocalOutage, RedisUnavailable, from_redis
from service.jobs.previews import (
    MASK_SLOT,
    PreviewStore,
    make_mask_preview,
    preview_of,
    save_preview,
)
from service.jobs.records import JobStore
from service.logs import Trouble, skipping_redis_outage
from service.pipeline.runner import StepRecord
from service.queue import JobRecord

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_OUTAGE_PAUSE = 30.0  # seconds between looks at a Redis or disk that is away or full
# How long one run of a job may wait for our own Redis or disk before it hands itself back to
# the queue: well inside arq's job timeout, which would otherwise end it as failed.
OUTAGE_BUDGET = JOB_TIMEOUT_SECONDS / 2
_deadline: contextvars.ContextVar[float] = contextvars.ContextVar(
    "photo_restore_job_deadline", default=math.inf
)


class _Services(Protocol):
    """What riding out an outage needs of a job's services (`jobs.task.TaskServices`)."""

    @property
    def redis(self) -> Redis: ...
    @property
    def store(self) -> JobStore: ...
    @property
    def previews(self) -> PreviewStore: ...
    @property
    def trouble(self) -> Trouble: ...


@contextlib.contextmanager
def outage_budget() -> Iterator[None]:
    """Around one run of a job: the waits inside it end after OUTAGE_BUDGET seconds."""
    token = _deadline.set(time.monotonic() + OUTAGE_BUDGET)
    try:
        yield
    finally:
        _deadline.reset(token)


async def until_redis(trouble: Trouble, call: Callable[[], Awaitable[T]]) -> T:
    """A Redis call whose loss would waste work already done: while Redis is away (said once
    in the log), wait and try again — inside a job until this run's outage budget is spent,
    then RedisUnavailable hands the job back to the queue; outside one (the worker's own
    bookkeeping) until Redis is back."""
    pause = 0.2
    while True:
        try:
            result = await call()
        except RedisError as exc:
            outage = from_redis(exc)
            if outage is None:
                raise
            trouble.failing(outage)
            if time.monotonic() + pause > _deadline.get():
                raise outage from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
        else:
            trouble.ok()
            return result


class Progress:
    """What a running job shows on the dashboard: its steps, and previews of the source, each
    changed step, the result and the damage mask. Only for show: while Redis is away they are
    skipped."""

    def __init__(self, services: _Services, job_id: str) -> None:
        self.services = services
        self.job_id = job_id

    async def _shown(self, update: Awaitable[object]) -> None:
        with skipping_redis_outage(self.services.trouble):
            await update

    async def steps(self, steps: list[StepRecord]) -> None:
        await self._shown(
            self.services.store.update(self.job_id, steps=[s.to_dict() for s in steps])
        )

    async def preview(self, slot: str, image: Image.Image) -> None:
        data = await preview_of(image)
        await self._shown(save_preview(self.services.previews, self.job_id, slot, data))

    async def mask(self, mask: Image.Image) -> None:
        data = await asyncio.to_thread(make_mask_preview, mask)
        await self._shown(save_preview(self.services.previews, self.job_id, MASK_SLOT, data))

    async def source(self, image: Image.Image) -> None:
        await self.preview("source", image)

    async def step(self, index: int, image: Image.Image) -> None:
        await self.preview(str(index), image)


async def hand_back(services: _Services, job_id: str, note: str) -> None:
    """A cancelled job goes back to the queue; its record says so when Redis lets us."""
    with skipping_redis_outage(services.trouble):
        await services.store.update(job_id, status="queued", note=note)


async def pause_for(services: _Services, record: JobRecord, exc: LocalOutage, pause: float) -> None:
    """Wait out an outage of our own Redis or disk before the next go at the same try; past
    this run's budget, `exc` is raised to hand the job back to the queue."""
    if isinstance(exc, RedisUnavailable):
        services.trouble.failing(exc)
        await until_redis(services.trouble, services.redis.ping)
        return
    if time.monotonic() + pause > _deadline.get():
        raise exc
    log.warning("job %s waits %.0f s: %s", record.id, pause, exc)
    with_note = f"waiting {pause:.0f} s: {exc}"
    await until_redis(services.trouble, lambda: services.store.update(record.id, note=with_note))
    await asyncio.sleep(pause)


async def give_back(services: _Services, record: JobRecord, exc: LocalOutage) -> None:
    """The outage outlasted this run: back to the queue, this run not counted as a try."""
    log.warning("job %s goes back to the queue, still waiting: %s", record.id, exc)
    with contextlib.suppress(RedisError):
        await services.store.update(
            record.id,
            status="queued",
            attempts=max(0, record.attempts - 1),
            note=f"waiting for it to pass: {exc}",
        )
