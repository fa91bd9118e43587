"""What a poll costs where the server propagates folder etags: one request for the whole
account when nothing changed, the changed path only when something did, and a safety net that
finds what etags missed at a small, bounded share of the requests."""

from __future__ import annotations

from pathlib import Path

from service.constants import SAFETY_NET_EVERY
from service.storage.base import Entry
from service.storage.local import LocalStorage
from tests.watch.test_poller import make, put


class EtagStorage(LocalStorage):
    """A local folder that gives folders etags (as ownCloud does), counting requests.

    `frozen` folders keep the etag they had when frozen, as a folder on external storage does
    when a change was made behind the server's back.
    """

    mtime_is_arrival = False

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.requests: list[tuple[str, str]] = []
        self.frozen: dict[str, str] = {}

    def _tree_etag(self, path: str) -> str:
        if path in self.frozen:
            return self.frozen[path]
        real = self._real(path)
        stamps = [str(p.stat().st_mtime_ns) + p.name for p in sorted(real.rglob("*"))]
        return str(hash(tuple(stamps)))

    def freeze(self, *paths: str) -> None:
        for path in paths:
            self.frozen[path] = self._tree_etag(path)

    async def stat(self, path: str) -> Entry | None:
        self.requests.append(("stat", path))
        entry = await super().stat(path)
        if entry is not None and entry.is_dir:
            entry = Entry(**{**entry.__dict__, "etag": self._tree_etag(entry.path)})
        return entry

    async def list(self, path: str) -> list[Entry]:
        self.requests.append(("list", path))
        return [
            Entry(**{**e.__dict__, "etag": self._tree_etag(e.path)}) if e.is_dir else e
            for e in await super().list(path)
        ]


def account(tmp_path: Path, inboxes: int = 5) -> EtagStorage:
    for i in range(inboxes):
        for j in range(4):
            put(tmp_path, f"A{i}/to-restore/sub{j}/photo{j}.jpg")
    return EtagStorage(tmp_path)


async def test_an_idle_poll_costs_one_request_for_the_whole_account(tmp_path: Path) -> None:
    storage = account(tmp_path)
    w, q, _ = make(tmp_path, storage=storage)
    await w.poll_once()
    await w.poll_once()  # second look: settled, queued (etag storage has no arrival mtime)
    assert len(q.submitted) == 20
    storage.requests.clear()
    report = await w.poll_once()
    assert storage.requests == [("stat", "/")]  # one Depth-0 of WATCH_ROOT, nothing else
    assert report.inboxes == 5


async def test_a_new_scan_costs_only_the_folders_on_its_path(tmp_path: Path) -> None:
    storage = account(tmp_path)
    w, q, _ = make(tmp_path, storage=storage)
    await w.poll_once()
    await w.poll_once()
    put(tmp_path, "A3/to-restore/sub1/new.jpg")
    storage.requests.clear()
    await w.poll_once()  # first look at the new file
    listed = [p for kind, p in storage.requests if kind == "list"]
    assert listed == ["/", "/A3", "/A3/to-restore", "/A3/to-restore/sub1"]
    await w.poll_once()  # second look: settled
    assert q.submitted[-1].source == "/A3/to-restore/sub1/new.jpg"
    storage.requests.clear()
    await w.poll_once()
    assert storage.requests == [("stat", "/")]


async def test_the_safety_net_costs_one_listing_every_few_polls(tmp_path: Path) -> None:
    storage = account(tmp_path)
    w, _, _ = make(tmp_path, storage=storage)
    await w.poll_once()
    await w.poll_once()
    storage.requests.clear()
    polls = 10 * SAFETY_NET_EVERY
    for _ in range(polls):
        await w.poll_once()
    assert len(storage.requests) == polls + polls // SAFETY_NET_EVERY


async def test_the_safety_net_finds_a_scan_no_etag_told_of(tmp_path: Path) -> None:
    storage = account(tmp_path)
    w, q, _ = make(tmp_path, storage=storage)
    await w.poll_once()
    await w.poll_once()
    # A scan arrives where no etag moves (external storage changed behind the server's back).
    storage.freeze("/", "/A1", "/A1/to-restore", "/A1/to-restore/sub2")
    put(tmp_path, "A1/to-restore/sub2/missed.jpg")
    folders = 1 + 5 * (2 + 4)  # the root, and per person their folder, inbox and sub-folders
    for _ in range(folders * SAFETY_NET_EVERY + 2):
        await w.poll_once()
    assert any(r.source == "/A1/to-restore/sub2/missed.jpg" for r in q.submitted)
