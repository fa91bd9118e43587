"""The watcher over a real local folder: settle rules, junk, dedupe, restart, etag short-cut."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from service.config.catalog import load_catalog
from service.config.settings import Settings
from service.pipeline import registry
from service.queue import MemoryJobQueue
from service.storage.local import LocalStorage
from service.watch.ledger import MemoryLedger
from service.watch.poller import Watcher
from service.watch.rules import NOTE_PERMANENT, NOTE_TEMPORARY

REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make(
    tmp_path: Path, storage: object | None = None, **kw: object
) -> tuple[Watcher, MemoryJobQueue, Clock]:
    settings = Settings(data_dir=tmp_path, settle_seconds=5, **kw)  # type: ignore[arg-type]
    catalog = load_catalog(REPO / "models.toml", local_ops=registry.names())
    queue = MemoryJobQueue()
    clock = Clock()
    w = Watcher(
        storage or LocalStorage(tmp_path),
        settings,
        catalog,
        queue,
        MemoryLedger(),
        default_chain="classic",
        clock=clock,
    )
    return w, queue, clock


def put(root: Path, rel: str, data: bytes = b"\xff\xd8scan", age: float = 60) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    t = time.time() - age
    os.utime(path, (t, t))
    return path


async def test_inboxes_are_found_anywhere_under_the_root(tmp_path: Path) -> None:
    for rel in ("Family/to-restore/a.jpg", "Grandma/1950s/to-restore/b.jpg", "Other/c.jpg"):
        put(tmp_path, rel)
    (tmp_path / "Family/restored/to-restore").mkdir(parents=True)  # inside an output: no
    w, _, _ = make(tmp_path)
    assert await w.discover() == ["/Family/to-restore", "/Grandma/1950s/to-restore"]


async def test_a_fresh_file_waits_for_a_second_look(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    put(tmp_path, "F/to-restore/new.jpg")
    clock.now = time.time()  # the file arrived just now (ctime), so it is not settled yet
    report = await w.poll_once()
    assert report.pending == 1
    assert not q.submitted
    report = await w.poll_once()  # unchanged on the second look: taken
    assert [r.source for r in q.submitted] == ["/F/to-restore/new.jpg"]
    assert q.submitted[0].output == "/F/restored/new.jpg"


async def test_an_old_enough_file_is_taken_on_first_look(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    put(tmp_path, "F/to-restore/a.jpg")
    clock.now = time.time() + 10
    await w.poll_once()
    assert len(q.submitted) == 1


async def test_a_growing_file_is_not_taken(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    path = put(tmp_path, "F/to-restore/big.tif", b"x" * 10)
    clock.now = time.time()
    for i in range(3):
        with path.open("ab") as f:
            f.write(b"y" * (i + 1))
        await w.poll_once()
    assert not q.submitted
    await w.poll_once()
    assert len(q.submitted) == 1


async def test_partial_hidden_and_empty_files_are_never_taken(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    for name in ("scan.jpg.part", ".~lock.scan.jpg#", ".hidden.jpg", "Thumbs.db", "x.tmp"):
        put(tmp_path, f"F/to-restore/{name}")
    put(tmp_path, "F/to-restore/@eaDir/thumb.jpg")
    clock.now = time.time() + 100
    for _ in range(3):
        await w.poll_once()
    assert not q.submitted


async def test_an_empty_file_is_taken_only_after_a_long_grace(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    put(tmp_path, "F/to-restore/empty.jpg", b"", age=0)
    clock.now = time.time()
    await w.poll_once()
    clock.now += 6  # past the normal settle delay: an upload may still be starting
    await w.poll_once()
    assert not q.submitted
    clock.now += 60  # still empty long after: taken, to fail with a clear reason
    await w.poll_once()
    assert [r.source for r in q.submitted] == ["/F/to-restore/empty.jpg"]


async def test_the_same_file_twice_makes_one_job(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    put(tmp_path, "F/to-restore/a.jpg")
    clock.now = time.time() + 10
    for _ in range(3):
        await w.poll_once(full=True)
    await w.poll_path("/F/to-restore/a.jpg")
    assert len(q.submitted) == 1


async def test_a_result_newer_than_the_original_means_done(tmp_path: Path) -> None:
    put(tmp_path, "F/to-restore/a.jpg", age=120)
    put(tmp_path, "F/restored/a.jpg", age=0)
    put(tmp_path, "F/to-restore/b.jpg", age=120)
    put(tmp_path, "F/restored/b.jpg.failed.txt", age=0)
    w, q, clock = make(tmp_path)
    clock.now = time.time() + 10
    report = await w.poll_once()
    assert report.skipped_done == 2
    assert not q.submitted


async def test_a_note_of_a_temporary_failure_never_blocks_a_redo(tmp_path: Path) -> None:
    put(tmp_path, "F/to-restore/a.jpg", age=120)
    note = "photo-restore could not restore a.jpg\n\nReason: gave up after 5 attempts\n"
    put(tmp_path, "F/restored/a.jpg.failed.txt", f"{note}{NOTE_TEMPORARY}\n".encode(), age=0)
    put(tmp_path, "F/to-restore/b.jpg", age=120)
    put(tmp_path, "F/restored/b.jpg.failed.txt", f"{note}{NOTE_PERMANENT}\n".encode(), age=0)
    w, q, clock = make(tmp_path)
    clock.now = time.time() + 10
    report = await w.poll_once()
    assert [r.source for r in q.submitted] == ["/F/to-restore/a.jpg"]
    assert report.skipped_done == 1


async def test_chain_sub_folder_selects_the_chain(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    put(tmp_path, "F/to-restore/faces/a.jpg")
    clock.now = time.time() + 10
    await w.poll_once()
    assert q.submitted[0].chain == "faces"
    assert q.submitted[0].output == "/F/restored/faces/a.jpg"


async def test_webhook_hint_outside_inboxes_does_nothing(tmp_path: Path) -> None:
    w, q, clock = make(tmp_path)
    put(tmp_path, "F/photos/a.jpg")
    clock.now = time.time() + 10
    report = await w.poll_path("/F/photos/a.jpg")
    assert report.candidates == 0
    assert not q.submitted


@pytest.mark.parametrize("root", ["/Family", "/Family/to-restore"])
async def test_watch_root_limits_where_inboxes_are_found(tmp_path: Path, root: str) -> None:
    put(tmp_path, "Family/to-restore/a.jpg")
    put(tmp_path, "Other/to-restore/b.jpg")
    w, q, clock = make(tmp_path, watch_root=root)
    clock.now = time.time() + 10
    await w.poll_once()
    assert [r.source for r in q.submitted] == ["/Family/to-restore/a.jpg"]
