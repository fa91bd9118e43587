"""WebDAVStorage against real servers (wsgidav and Apache mod_dav): names, reads, writes."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from service.errors import NotFound
from service.storage.base import Storage
from service.storage.paths import nfc
from service.storage.webdav import WebDAVStorage
from tests.servers import DavServer
from tests.storage.webdav.conftest import disk

ODD_NAMES = [
    "a b.jpg",
    "x#1.jpg",
    "50%.jpg",
    "r&d.jpg",
    "why?.jpg",
    unicodedata.normalize("NFC", "Café Zoë.jpg"),
    unicodedata.normalize("NFD", "Ärger ñ.jpg"),  # what a macOS client uploads
]


def put_on_disk(server: DavServer, path: str, data: bytes) -> None:
    real = disk(server, path)
    real.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(real.parent, 0o777)
    real.write_bytes(data)


def test_webdav_storage_fits_the_protocol(storage: WebDAVStorage) -> None:
    assert isinstance(storage, Storage)


async def test_list_and_stat_names_with_space_hash_percent_amp_question_and_unicode(
    storage: WebDAVStorage, server: DavServer, folder: str
) -> None:
    sub = f"{folder}/sub #1 & more"
    for i, name in enumerate(ODD_NAMES):
        put_on_disk(server, f"{sub}/{name}", b"x" * (i + 1))
    put_on_disk(server, f"{sub}/deeper?/inner.jpg", b"inner")

    top = await storage.list(folder)
    assert [(e.name, e.is_dir) for e in top] == [("sub #1 & more", True)]

    entries = await storage.list(sub)
    files = {nfc(e.name): e for e in entries if not e.is_dir}
    assert set(files) == {nfc(n) for n in ODD_NAMES}
    assert [e.name for e in entries if e.is_dir] == ["deeper?"]
    for i, name in enumerate(ODD_NAMES):
        entry = files[nfc(name)]
        assert entry.size == i + 1
        assert entry.etag
        assert entry.path == f"{sub}/{entry.name}"
        # Asked for in NFC, found whatever form the server stores.
        found = await storage.stat(f"{sub}/{nfc(name)}")
        assert found is not None
        assert found.size == i + 1
        assert found.path == entry.path  # the server's own spelling, usable for GET
    inner = await storage.list(f"{sub}/deeper?")
    assert [e.name for e in inner] == ["inner.jpg"]
    assert await storage.stat(f"{sub}/nothing.jpg") is None


async def test_listing_a_missing_folder_raises_not_found(
    storage: WebDAVStorage, folder: str
) -> None:
    with pytest.raises(NotFound):
        await storage.list(f"{folder}/absent")


async def test_folder_entries_carry_etag_where_the_server_has_one(
    storage: WebDAVStorage, server: DavServer, folder: str
) -> None:
    await storage.makedirs(f"{folder}/inbox")
    before = await storage.stat(f"{folder}/inbox")
    listed = await storage.list(folder)
    assert before is not None
    assert before.is_dir
    assert listed[0].is_dir
    if not server.folder_etags:
        assert before.etag is None  # wsgidav: folders have no getetag at all
        return
    assert before.etag
    assert listed[0].etag == before.etag
    await storage.write_atomic(f"{folder}/inbox/new.jpg", b"data")
    after = await storage.stat(f"{folder}/inbox")
    assert after is not None
    assert after.etag != before.etag


async def test_download_streams_whole_file_to_disk(
    storage: WebDAVStorage, server: DavServer, folder: str, tmp_path: Path
) -> None:
    data = os.urandom(3 << 20)
    put_on_disk(server, f"{folder}/big #1.jpg", data)
    entry = await storage.download(f"{folder}/big #1.jpg", tmp_path / "out.jpg")
    assert (tmp_path / "out.jpg").read_bytes() == data
    assert entry.size == len(data)
    assert entry.etag
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]
    chunks = [c async for c in storage.iter_bytes(f"{folder}/big #1.jpg")]
    assert b"".join(chunks) == data
    assert len(chunks) > 1


async def test_download_of_missing_file_raises_not_found(
    storage: WebDAVStorage, folder: str, tmp_path: Path
) -> None:
    with pytest.raises(NotFound):
        await storage.download(f"{folder}/gone.jpg", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["restored & done #2 50%.jpg", "Zoë ä.jpg", "what?.jpg"])
async def test_atomic_write_leaves_no_temp_name_behind(
    storage: WebDAVStorage, server: DavServer, folder: str, name: str
) -> None:
    if "?" in name and server.name == "wsgidav":
        pytest.skip("wsgidav 4.4 unquotes MOVE's Destination before splitting off a query")
    target = f"{folder}/restored/sub/{name}"
    entry = await storage.write_atomic(target, b"new content", mtime=1_600_000_000)
    assert entry.path == target
    assert entry.size == len(b"new content")
    assert not entry.is_dir
    names = [e.name for e in await storage.list(f"{folder}/restored/sub")]
    assert names == [name]
    assert disk(server, target).read_bytes() == b"new content"


async def test_overwrite_false_refuses_and_keeps_the_old_content(
    storage: WebDAVStorage, server: DavServer, folder: str
) -> None:
    target = f"{folder}/out.jpg"
    await storage.write_atomic(target, b"first")
    with pytest.raises(FileExistsError):
        await storage.write_atomic(target, b"second", overwrite=False)
    assert disk(server, target).read_bytes() == b"first"
    await storage.write_atomic(target, b"third", overwrite=True)
    assert disk(server, target).read_bytes() == b"third"
    assert [e.name for e in await storage.list(folder)] == ["out.jpg"]


async def test_write_from_a_local_file(
    storage: WebDAVStorage, server: DavServer, folder: str, tmp_path: Path
) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(2_500_000))
    entry = await storage.write_atomic(f"{folder}/from file.bin", src)
    assert entry.size == 2_500_000
    assert disk(server, f"{folder}/from file.bin").read_bytes() == src.read_bytes()


async def test_makedirs_creates_parents_and_accepts_existing(
    storage: WebDAVStorage, folder: str
) -> None:
    await storage.makedirs(f"{folder}/a/b c/d#")
    await storage.makedirs(f"{folder}/a/b c/d#")
    await storage.makedirs(f"{folder}/a")
    entry = await storage.stat(f"{folder}/a/b c/d#")
    assert entry is not None
    assert entry.is_dir


async def test_delete_removes_and_ignores_missing(storage: WebDAVStorage, folder: str) -> None:
    await storage.write_atomic(f"{folder}/x y.jpg", b"1")
    await storage.delete(f"{folder}/x y.jpg")
    await storage.delete(f"{folder}/x y.jpg")
    assert await storage.stat(f"{folder}/x y.jpg") is None


async def test_growing_file_shows_changing_size_and_etag(
    storage: WebDAVStorage, server: DavServer, folder: str
) -> None:
    path = f"{folder}/scan.tif"
    put_on_disk(server, path, b"a" * 1000)
    first = await storage.stat(path)
    with disk(server, path).open("ab") as fh:
        fh.write(b"b" * 1000)
    second = await storage.stat(path)
    assert first is not None
    assert second is not None
    assert (first.size, second.size) == (1000, 2000)
    assert first.etag != second.etag
    assert first.version != second.version


async def test_check_describes_the_server(storage: WebDAVStorage) -> None:
    line = await storage.check()
    assert "WebDAV" in line
    assert storage.server_info.files_root in line
