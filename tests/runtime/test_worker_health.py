"""The worker's health line counts what its jobs ended as: a job that failed with an
explained note is "failed", not "complete" (arq's own count saw only a function returning)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from service.config.settings import Settings
from service.queue import JobRequest
from service.runtime.services import Services
from service.runtime.worker import HEALTH_KEY, make_worker
from tests.images import jpeg_with_exif
from tests.runtime.conftest import REDIS_URL


async def queue_file(services: Services, name: str) -> None:
    entry = await services.storage.stat(f"/F/to-restore/{name}")
    assert entry is not None
    await services.queue.submit(
        JobRequest(
            source=entry.path,
            output=f"/F/restored/{name}",
            chain="classic",
            identity=entry.identity,
            version=entry.version,
        )
    )


async def test_the_health_line_counts_failed_jobs_apart(tmp_path: Path, redis: Redis) -> None:
    data = tmp_path / "data"
    (data / "F/to-restore").mkdir(parents=True)
    jpeg_with_exif(data / "F/to-restore/good.jpg")
    (data / "F/to-restore/bad.jpg").write_text("not a photo")
    services = await Services.open(Settings(data_dir=data, default_chain="classic"), REDIS_URL)
    try:
        await queue_file(services, "good.jpg")
        await queue_file(services, "bad.jpg")
        worker = make_worker(
            services.settings,
            REDIS_URL,
            services=services,
            watch=False,
            burst=True,
            handle_signals=False,
        )
        try:
            await worker.main()
            worker._last_health_check = 0  # record now, not at the next interval
            await worker.record_health()
            line = (await redis.get(HEALTH_KEY)).decode()
        finally:
            await worker.close()
    finally:
        await services.aclose()
    assert "j_done=1 j_failed=1" in line, line
