"""A job that meets an outage of our own disk or Redis waits and goes on: no note, no try
spent, nothing redone; and a transient failure's note, when it comes to that, says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from arq import Retry

from service.errors import DiskFull, StorageUnavailable
from service.jobs import outages
from service.jobs.task import restore_job, run_restore
from service.runtime.services import Services
from service.watch.rules import NOTE_TEMPORARY
from tests.images import jpeg_with_exif
from tests.jobs.test_task import inbox, job_whose_download, submit


async def test_a_full_disk_pauses_the_job_and_it_goes_on_without_a_note(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    jpeg_with_exif(inbox(services) / "full.jpg")
    job = await submit(services, "full.jpg")
    real = services.storage.write_atomic
    calls: list[str] = []
    restores: list[int] = []
    real_download = services.storage.download

    async def counting_download(*a: Any, **k: Any) -> Any:
        restores.append(1)
        return await real_download(*a, **k)

    async def full_twice(path: str, source: Any, **kw: Any) -> Any:
        calls.append(path)
        if len(calls) <= 2:
            raise DiskFull("no space left on the local disk: No space left on device")
        return await real(path, source, **kw)

    monkeypatch.setattr(services.storage, "write_atomic", full_twice)
    monkeypatch.setattr(services.storage, "download", counting_download)
    record = await run_restore(services, job)
    assert record is not None
    assert record.status == "done"
    assert record.attempts == 1  # the waits spent no try
    assert len(restores) == 1  # the result made before the outage was kept, not made again
    restored = services.settings.data_dir / "F/restored"
    assert sorted(p.name for p in restored.iterdir()) == ["full.jpg"]  # no note
    assert sum("waits" in r.getMessage() for r in caplog.records) == 2


async def test_a_real_enospc_from_the_disk_is_a_pause_not_a_failure(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.storage.download
    calls: list[Path] = []

    async def enospc_once(path: str, dest: Path) -> Any:
        calls.append(dest)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return await real(path, dest)

    job = await job_whose_download(services, monkeypatch, "enospc.jpg", enospc_once)
    record = await run_restore(services, job)
    assert record is not None
    assert record.status == "done"
    assert record.attempts == 1


async def test_a_note_after_giving_up_on_a_transient_cause_says_it_is_temporary(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def busy(*a: object, **k: object) -> None:
        raise StorageUnavailable("503 Service Unavailable")

    job = await job_whose_download(services, monkeypatch, "busy.jpg", busy)
    for _ in range(4):
        with pytest.raises(StorageUnavailable):
            await run_restore(services, job)
    record = await run_restore(services, job)
    assert record is not None
    assert record.status == "failed"
    note = services.settings.data_dir / "F/restored/busy.jpg.failed.txt"
    assert NOTE_TEMPORARY in note.read_text()


async def test_the_temporary_copy_of_the_original_lives_in_the_scratch_folder(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.storage.download
    seen: list[Path] = []

    async def spy(path: str, dest: Path) -> Any:
        seen.append(dest)
        return await real(path, dest)

    job = await job_whose_download(services, monkeypatch, "where.jpg", spy)
    await run_restore(services, job)
    assert services.settings.scratch_dir in seen[0].parents
    assert not seen[0].exists()  # and is gone when the job is


async def test_a_disk_full_for_longer_than_a_run_may_wait_goes_back_to_the_queue_untried(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Waiting on inside the run would meet arq's job timeout, which ends a job as failed.
    monkeypatch.setattr(outages, "OUTAGE_BUDGET", 1.0)
    jpeg_with_exif(inbox(services) / "long.jpg")
    job = await submit(services, "long.jpg")

    async def always_full(*a: object, **k: object) -> None:
        raise DiskFull("no space left on the local disk: No space left on device")

    monkeypatch.setattr(services.storage, "write_atomic", always_full)
    with pytest.raises(Retry):
        await restore_job({"services": services, "job_try": 1, "tally": {}}, job)
    record = await services.store.get(job)
    assert record is not None
    assert record.status == "queued"
    assert record.attempts == 0  # this run did not count
    assert "waiting" in (record.note or "")
    assert not (services.settings.data_dir / "F/restored/long.jpg.failed.txt").exists()
