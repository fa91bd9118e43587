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
from service.storage.base import Entry
from service.storage.local import LocalStorage
from service.watch.ledger import MemoryLedger
from service.watch.poller import Watcher

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


class EtagStorage(LocalStorage):
    """A local folder that gives folders etags (as ownCloud does), counting requests."""

    mtime_is_arrival = False

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.requests = 0

    def _tree_etag(self, path: str) -> str:
        real = self._real(path)
        stamps = [str(p.stat().st_mtime_ns) + p.name for p in sorted(real.rglob("*"))]
        return str(hash(tuple(stamps)))

    async def stat(self, path: str) -> Entry | None:
        self.requests += 1
        entry = await super().stat(path)
        if entry is not None and entry.is_dir:
            entry = Entry(**{**entry.__dict__, "etag": self._tree_etag(path)})
        return entry

    async def list(self, path: str) -> list[Entry]:
        self.requests += 1
        return [
            Entry(**{**e.__dict__, "etag": self._tree_etag(e.path)}) if e.is_dir else e
            for e in await super().list(path)
        ]


async def test_idle_poll_costs_one_request_per_inbox_when_folders_have_etags(
    tmp_path: Path,
) -> None:
    for i in range(5):
        for j in range(4):
            put(tmp_path, f"A{i}/to-restore/sub{j}/photo{j}.jpg")
    storage = EtagStorage(tmp_path)
    w, q, _ = make(tmp_path, storage=storage)
    await w.poll_once()
    await w.poll_once()  # second look: settled, queued (etag storage has no arrival mtime)
    assert len(q.submitted) == 20
    storage.requests = 0
    report = await w.poll_once()
    # root look + one Depth-0 per inbox; the walk itself is skipped by the root etag
    assert report.inboxes == 5
    assert storage.requests == 1 + 5
    put(tmp_path, "A3/to-restore/sub1/new.jpg")
    storage.requests = 0
    await w.poll_once()
    await w.poll_once()
    assert q.submitted[-1].source == "/A3/to-restore/sub1/new.jpg"


@pytest.mark.parametrize("root", ["/Family", "/Family/to-restore"])
async def test_watch_root_limits_where_inboxes_are_found(tmp_path: Path, root: str) -> None:
    put(tmp_path, "Family/to-restore/a.jpg")
    put(tmp_path, "Other/to-restore/b.jpg")
    w, q, clock = make(tmp_path, watch_root=root)
    clock.now = time.time() + 10
    await w.poll_once()
    assert [r.source for r in q.submitted] == ["/Family/to-restore/a.jpg"]
