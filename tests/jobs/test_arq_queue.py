"""The queue on arq and a real Redis: one job per file version, pause, queue again."""

from __future__ import annotations

from redis.asyncio import Redis

from service.constants import QUEUE_NAME
from service.queue import JobRequest
from service.runtime.services import Services


def request(name: str = "a.jpg", version: str = "v1", chain: str = "classic") -> JobRequest:
    return JobRequest(
        source=f"/F/to-restore/{name}",
        output=f"/F/restored/{name}",
        chain=chain,
        identity=f"/F/to-restore/{name}",
        version=version,
    )


async def test_the_same_file_version_is_queued_once(services: Services, redis: Redis) -> None:
    first = await services.queue.submit(request())
    again = await services.queue.submit(request())
    assert first is not None
    assert again is None
    assert await redis.zcard(QUEUE_NAME) == 1
    newer = await services.queue.submit(request(version="v2"))
    assert newer is not None
    assert await services.queue.depth() == 2


async def test_pause_flag_round_trips(services: Services) -> None:
    await services.queue.set_paused(True)
    assert await services.queue.is_paused()
    await services.queue.set_paused(False)
    assert not await services.queue.is_paused()


async def test_a_failed_job_can_be_queued_again(services: Services, redis: Redis) -> None:
    rec = await services.queue.submit(request())
    assert rec is not None
    await redis.delete(QUEUE_NAME)  # as if a worker had taken it
    await services.store.update(rec.id, status="failed", error="boom")
    assert await services.queue.requeue(rec.id)
    again = await services.store.get(rec.id)
    assert again is not None
    assert again.status == "queued"
    assert again.error is None
    assert await redis.zcard(QUEUE_NAME) == 1
