"""The queue as producers see it: deterministic job ids and the in-memory twin."""

from __future__ import annotations

from service.queue import JobRequest, MemoryJobQueue, job_id_for


def test_job_ids_are_deterministic_and_distinct() -> None:
    assert job_id_for("id", "v1", "classic") == job_id_for("id", "v1", "classic")
    ids = {
        job_id_for("id", "v1", "classic"),
        job_id_for("id", "v2", "classic"),
        job_id_for("id", "v1", "restore"),
        job_id_for("id", "v1", "classic", "rerun-1"),
    }
    assert len(ids) == 4


async def test_the_memory_twin_queues_each_job_once() -> None:
    queue = MemoryJobQueue()
    request = JobRequest(
        source="/F/to-restore/a.jpg",
        output="/F/restored/a.jpg",
        chain="classic",
        identity="file-7",
        version="v1",
    )
    first = await queue.submit(request)
    assert first is not None
    assert first.id == request.job_id
    assert first.status == "queued"
    assert await queue.submit(request) is None
    assert await queue.depth() == 1
    await queue.set_paused(True)
    assert await queue.is_paused()
