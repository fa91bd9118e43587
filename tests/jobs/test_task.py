"""The restore task on a real Redis and a local folder: results, failures, retries, hand-back."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from PIL import Image

from service.errors import StorageUnavailable
from service.formats import result_name
from service.jobs.previews import load_preview
from service.jobs.task import backoff_seconds, run_restore
from service.pipeline.imageio import read_provenance
from service.queue import JobRequest
from service.runtime.services import Services
from tests.images import DATE_TAKEN, jpeg_with_exif, png_bomb, truncated_jpeg


async def submit(services: Services, name: str, chain: str = "classic") -> str:
    root = services.settings.data_dir
    src = root / "F/to-restore" / name
    entry = await services.storage.stat(f"/F/to-restore/{name}")
    assert entry is not None, src
    rec = await services.queue.submit(
        JobRequest(
            source=entry.path,
            output=f"/F/restored/{result_name(name, None)}",
            chain=chain,
            identity=entry.identity,
            version=entry.version,
        )
    )
    assert rec is not None
    return rec.id


def inbox(services: Services) -> Path:
    path = services.settings.data_dir / "F/to-restore"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_a_scan_is_restored_beside_the_inbox_with_its_metadata(services: Services) -> None:
    src = inbox(services) / "Oma & Opa (1958) #2.jpg"
    jpeg_with_exif(src, orientation=6, size=(320, 240))
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    job = await submit(services, src.name)
    record = await run_restore(services, job)
    assert record is not None
    assert record.status == "done", record
    out = services.settings.data_dir / "F/restored" / src.name
    with Image.open(out) as im:
        assert im.format == "JPEG"
        assert im.size == (240, 320)  # orientation 6 applied: stored upright
        exif = im.getexif()
        assert exif.get(0x0112) in (None, 1)
        assert exif.get_ifd(0x8769).get(0x9003) == DATE_TAKEN
    prov = read_provenance(out.read_bytes())
    assert prov is not None
    assert prov["chain"] == "classic"
    assert prov["job"] == job
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # original untouched
    assert [s["name"] for s in record.steps][:2] == ["auto_orient", "remove_border"]
    assert all(s["status"] in ("done", "skipped") for s in record.steps)
    assert await load_preview(services.redis, job, "result")
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".restore-")]
    assert not leftovers


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("these are my notes"), "not an image"),
        (truncated_jpeg, "truncated"),
        (png_bomb, "decompression bomb"),
    ],
)
async def test_bad_input_fails_with_a_reason_and_a_note(
    services: Services, make: object, reason: str
) -> None:
    src = inbox(services) / "bad.jpg"
    make(src)  # type: ignore[operator]
    original = src.read_bytes()
    job = await submit(services, "bad.jpg")
    record = await run_restore(services, job)
    assert record is not None
    assert record.status == "failed"
    assert reason in (record.error or "")
    note = services.settings.data_dir / "F/restored/bad.jpg.failed.txt"
    assert reason in note.read_text()
    assert not (services.settings.data_dir / "F/restored/bad.jpg").exists()
    assert src.read_bytes() == original


async def test_a_later_success_removes_the_failure_note(services: Services) -> None:
    src = inbox(services) / "a.png"
    src.write_text("not yet")
    await run_restore(services, await submit(services, "a.png"))
    note = services.settings.data_dir / "F/restored/a.png.failed.txt"
    assert note.exists()
    Image.new("RGBA", (64, 48), (10, 200, 30, 128)).save(src)
    record = await run_restore(services, await submit(services, "a.png"))
    assert record is not None
    assert record.status == "done"
    assert not note.exists()
    with Image.open(services.settings.data_dir / "F/restored/a.png") as im:
        assert im.mode == "RGBA"


@pytest.mark.parametrize(
    ("name", "make", "mode"),
    [
        ("cmyk.jpg", lambda p: Image.new("CMYK", (80, 60), (0, 40, 80, 10)).save(p), "RGB"),
        ("grey16.tif", lambda p: Image.new("I;16", (80, 60), 30000).save(p), "I;16"),
        ("alpha.png", lambda p: Image.new("RGBA", (80, 60), (200, 100, 50, 90)).save(p), "RGBA"),
    ],
)
async def test_odd_modes_come_back_in_their_format(
    services: Services, name: str, make: object, mode: str
) -> None:
    src = inbox(services) / name
    make(src)  # type: ignore[operator]
    record = await run_restore(services, await submit(services, name))
    assert record is not None
    assert record.status == "done", record.error
    with Image.open(services.settings.data_dir / "F/restored" / name) as im:
        assert im.mode == mode
        assert im.size == (80, 60)


async def test_a_gif_scan_comes_back_as_a_png_named_png(services: Services) -> None:
    src = inbox(services) / "old.gif"
    Image.new("RGB", (80, 60), (120, 90, 60)).convert("P").save(src)
    record = await run_restore(services, await submit(services, "old.gif"))
    assert record is not None
    assert record.status == "done", record.error
    restored = services.settings.data_dir / "F/restored"
    assert sorted(p.name for p in restored.iterdir()) == ["old.png"]
    with Image.open(restored / "old.png") as im:
        assert im.format == "PNG"


async def test_running_the_same_job_twice_gives_one_result(services: Services) -> None:
    src = inbox(services) / "twice.jpg"
    jpeg_with_exif(src)
    job = await submit(services, "twice.jpg")
    await run_restore(services, job)
    out = services.settings.data_dir / "F/restored/twice.jpg"
    first = out.stat().st_mtime_ns
    await run_restore(services, job)
    assert out.stat().st_mtime_ns == first
    assert sorted(p.name for p in out.parent.iterdir()) == ["twice.jpg"]


async def job_whose_download(
    services: Services, monkeypatch: pytest.MonkeyPatch, name: str, download: object
) -> str:
    """A queued job for a real scan whose download is replaced by `download`."""
    jpeg_with_exif(inbox(services) / name)
    job = await submit(services, name)
    monkeypatch.setattr(services.storage, "download", download)
    return job


async def test_a_transient_storage_error_asks_for_a_retry(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def flaky(*a: object, **k: object) -> None:
        raise StorageUnavailable("503 from the server", retry_after=7)

    job = await job_whose_download(services, monkeypatch, "t.jpg", flaky)
    with pytest.raises(StorageUnavailable):
        await run_restore(services, job)
    record = await services.store.get(job)
    assert record is not None
    assert record.status == "queued"
    assert "retrying in 7 s" in (record.note or "")


async def test_giving_up_after_max_tries_is_an_explained_failure(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def flaky(*a: object, **k: object) -> None:
        raise StorageUnavailable("timeout")

    job = await job_whose_download(services, monkeypatch, "g.jpg", flaky)
    for _ in range(4):
        with pytest.raises(StorageUnavailable):
            await run_restore(services, job)
    record = await run_restore(services, job)
    assert record is not None
    assert record.status == "failed"
    assert "gave up after 5 attempts: timeout" in (record.error or "")


async def test_a_cancelled_job_is_handed_back(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def slow(*a: object, **k: object) -> None:
        started.set()
        await asyncio.sleep(30)

    job = await job_whose_download(services, monkeypatch, "c.jpg", slow)
    task = asyncio.create_task(run_restore(services, job))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = await services.store.get(job)
    assert record is not None
    assert record.status == "queued"
    assert "handed back" in (record.note or "")


def test_backoff_grows_and_honours_hints() -> None:
    assert [backoff_seconds(a, None) for a in (1, 2, 3)] == [10, 20, 40]
    assert backoff_seconds(9, None) == 600
    assert backoff_seconds(1, 42) == 42


async def test_json_logs_of_a_job_carry_its_id(services: Services) -> None:
    import io
    import json
    import logging

    from service.jobs.task import restore_job
    from service.logs import setup_logging

    buf = io.StringIO()
    handler = setup_logging("INFO", json=True, stream=buf)
    try:
        (inbox(services) / "bad.jpg").write_text("not a photo")
        job = await submit(services, "bad.jpg")
        assert await restore_job({"services": services, "job_try": 1}, job) == "failed"
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    mine = [entry for entry in lines if "bad.jpg" in entry["message"]]
    assert mine
    assert all(entry["job_id"] == job for entry in mine)
    assert any("not an image" in entry["message"] for entry in mine)
