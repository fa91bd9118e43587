"""Odd names and links left in the user's folders, through the watcher, the dashboard and a real
WebDAV server: one bad entry is skipped and logged, never a failed poll or a 400 for all."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from service.errors import UnsafePath
from service.storage.local import LocalStorage
from service.storage.webdav import WebDAVStorage
from tests.hostile.corpus import ODD_NAMES, photo
from tests.servers import DavServer, start_wsgidav
from tests.storage.webdav.conftest import FAST_RETRY, settings_for
from tests.web.api_support import Api, api_for

INBOX = "/Family/to-restore"


def plant_odd_names(folder: Path) -> list[str]:
    """Create every odd name the disk accepts, as files and as folders; the names made."""
    made = []
    for name in ODD_NAMES:
        with contextlib.suppress(OSError):  # ext4 keeps 255 bytes a name: 300 is refused
            (folder / name).write_bytes(photo())
            made.append(name)
        with contextlib.suppress(OSError):
            (folder / f"dir {name}").mkdir()
    return made


@pytest.fixture
async def api(rdb: redis.Redis, data_dir: Path) -> AsyncIterator[Api]:
    async with api_for(data_dir) as a:
        yield a


async def test_one_oddly_named_entry_fails_no_poll_and_no_listing(
    api: Api, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert plant_odd_names(data_dir)  # beside the inboxes
    plant_odd_names(data_dir / "Family/to-restore")  # and inside one
    (data_dir / "Family/to-restore/good.jpg").write_bytes(photo())
    (data_dir / "Family/to-restore/good.jpg").touch()
    r = await api.client.get("/api/inboxes", params={"fresh": "1"})
    assert r.status_code == 200
    assert [i["inbox"] for i in r.json()["inboxes"]] == [INBOX]
    listing = await api.client.get("/api/files", params={"path": INBOX})
    assert listing.status_code == 200
    assert [e["name"] for e in listing.json()["entries"]] == ["good.jpg"]
    watcher = api.services.watcher()
    await watcher.poll_once()
    report = await watcher.poll_once()  # settled on the second look
    await watcher.poll_once()
    queued = (await api.client.get("/api/jobs")).json()["jobs"]
    assert [j["source"] for j in queued] == [f"{INBOX}/good.jpg"]
    assert report.inboxes == 1
    assert "skipping an entry" in caplog.text


async def test_a_link_in_an_inbox_never_reaches_the_state_folder(api: Api, data_dir: Path) -> None:
    state = data_dir / ".photo-restore"
    state.mkdir(exist_ok=True)
    (state / "history.rdb").write_bytes(b"REDIS0011 the embedded Redis's dump")
    os.symlink(state / "history.rdb", data_dir / "Family/to-restore/history.jpg")
    os.symlink(state, data_dir / "Family/to-restore/state")
    for path in (f"{INBOX}/history.jpg", f"{INBOX}/state/history.rdb", "/.photo-restore/x"):
        r = await api.client.get("/api/files/download", params={"path": path})
        assert r.status_code in (400, 403), path
        assert b"REDIS" not in r.content
    r = await api.post("/api/files/enqueue", {"paths": [f"{INBOX}/history.jpg"]})
    assert r.status_code == 400
    storage = LocalStorage(data_dir)
    with pytest.raises(UnsafePath, match="symbolic link"):
        await storage.download(f"{INBOX}/history.jpg", data_dir.parent / "copy")
    with pytest.raises(UnsafePath):
        await storage.stat("/.photo-restore/history.rdb")
    assert await storage.list(INBOX) == []  # links are not even listed


@pytest.fixture(scope="module")
def wsgidav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    server = start_wsgidav(tmp_path_factory.mktemp("odd-wsgidav"))
    yield server
    server.stop()


async def test_odd_names_on_a_real_webdav_server_are_skipped_and_the_rest_listed(
    wsgidav: DavServer,
) -> None:
    inbox = wsgidav.root / "Odd" / "to-restore"
    inbox.mkdir(parents=True)
    plant_odd_names(wsgidav.root / "Odd")
    (inbox / "good.jpg").write_bytes(photo())
    async with httpx.AsyncClient(timeout=10) as http:
        storage = await WebDAVStorage.connect(settings_for(wsgidav), http, retry=FAST_RETRY)
        names = [e.name for e in await storage.list("/Odd")]
        assert "to-restore" in names
        assert not any("\\" in n or "\n" in n or "\t" in n for n in names)
        assert [e.name for e in await storage.list("/Odd/to-restore")] == ["good.jpg"]
