"""Job records in Redis: pages, filters, search and the review list."""

from __future__ import annotations

from redis.asyncio import Redis

from service.jobs.records import JobStore
from service.queue import JobRecord


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
    assert total == 30
    assert [r.id for r in page][:2] == ["j29", "j28"]
    failed, n_failed = await store.list(status="failed", limit=100)
    assert n_failed == 10
    assert all(r.status == "failed" for r in failed)
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
    assert total == 2
    assert {r.id for r in review} == {"r0", "r2"}
