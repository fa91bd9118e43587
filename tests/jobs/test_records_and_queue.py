"""Job records and the arq-backed queue on a real Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from service.constants import QUEUE_NAME
from service.jobs.records import JobStore
from service.queue import JobRecord, JobRequest, job_id_for
from service.runtime.services import Services


def request(name: str = "a.jpg", version: str = "v1", chain: str = "classic") -> JobRequest:
    return JobRequest(
        source=f"/F/to-restore/{name}",
        output=f"/F/restored/{name}",
        chain=chain,
        identity=f"/F/to-restore/{name}",
        version=version,
    )


def test_job_ids_are_deterministic_and_distinct() -> None:
    assert job_id_for("id", "v1", "classic") == job_id_for("id", "v1", "classic")
    ids = {
        job_id_for("id", "v1", "classic"),
        job_id_for("id", "v2", "classic"),
        job_id_for("id", "v1", "restore"),
        job_id_for("id", "v1", "classic", "rerun-1"),
    }
    assert len(ids) == 4


async def test_the_same_file_version_is_queued_once(services: Services, redis: Redis) -> None:
    first = await services.queue.submit(request())
    again = await services.queue.submit(request())
    assert first is not None and again is None
    assert await redis.zcard(QUEUE_NAME) == 1
    newer = await services.queue.submit(request(version="v2"))
    assert newer is not None and await services.queue.depth() == 2


async def test_records_page_filter_and_search(redis: Redis) -> None:
    store = JobStore(redis)
    for i in range(30):
        rec = JobRecord(
            id=f"j{i:02d}",
            source=f"/F/to-restore/photo {i}.jpg",
            output=f"/F/restored/photo {i}.jpg",
            chain="classic",
            created=1000 + i,
        )
        await store.create(rec)
    for i in range(0, 30, 3):
        await store.update(f"j{i:02d}", status="failed", error="bad")
    page, total = await store.list(offset=0, limit=10)
    assert total == 30 and [r.id for r in page][:2] == ["j29", "j28"]
    failed, n_failed = await store.list(status="failed", limit=100)
    assert n_failed == 10 and all(r.status == "failed" for r in failed)
    _found, n_found = await store.list(query="PHOTO 1", limit=100)
    assert n_found == 11  # photo 1, 10..19
    counts = await store.counts()
    assert counts == {"queued": 20, "running": 0, "done": 0, "failed": 10, "all": 30}


async def test_to_review_means_done_without_decision(redis: Redis) -> None:
    store = JobStore(redis)
    for i, decision in enumerate([None, "approved", None]):
        await store.create(
            JobRecord(
                id=f"r{i}",
                source=f"/F/to-restore/{i}.jpg",
                output=f"/F/restored/{i}.jpg",
                chain="classic",
            )
        )
        await store.update(f"r{i}", status="done", decision=decision)
    review, total = await store.list(status="review")
    assert total == 2 and {r.id for r in review} == {"r0", "r2"}


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
    assert again is not None and again.status == "queued" and again.error is None
    assert await redis.zcard(QUEUE_NAME) == 1
