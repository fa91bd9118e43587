"""The local-folder storage of laptops: atomic writes, no way out of the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.errors import NotFound, UnsafePath
from service.storage.base import Storage
from service.storage.local import LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    (tmp_path / "F" / "to-restore").mkdir(parents=True)
    return LocalStorage(tmp_path)


def test_it_is_a_storage(storage: LocalStorage) -> None:
    assert isinstance(storage, Storage)


async def test_an_atomic_write_leaves_no_temp_file_and_keeps_the_mtime(
    storage: LocalStorage, tmp_path: Path
) -> None:
    entry = await storage.write_atomic("/F/restored/a b.jpg", b"photo", mtime=1_600_000_000)
    assert (tmp_path / "F/restored/a b.jpg").read_bytes() == b"photo"
    assert entry.size == 5
    assert os.stat(tmp_path / "F/restored/a b.jpg").st_mtime == 1_600_000_000
    assert [p.name for p in (tmp_path / "F/restored").iterdir()] == ["a b.jpg"]


async def test_overwrite_false_keeps_the_file_there(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.write_atomic("/F/x.jpg", b"first")
    with pytest.raises(FileExistsError):
        await storage.write_atomic("/F/x.jpg", b"second", overwrite=False)
    assert (tmp_path / "F/x.jpg").read_bytes() == b"first"
    assert [p.name for p in (tmp_path / "F").iterdir() if p.is_file()] == ["x.jpg"]


async def test_a_new_version_gets_a_new_etag(storage: LocalStorage) -> None:
    first = await storage.write_atomic("/F/x.jpg", b"first")
    second = await storage.write_atomic("/F/x.jpg", b"second!")
    assert first.etag != second.etag
    assert (await storage.stat("/F")).etag is None  # type: ignore[union-attr]


async def test_listing_skips_symlinks_and_a_link_out_of_the_root_is_refused(
    storage: LocalStorage, tmp_path: Path
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "F" / "to-restore" / "escape").symlink_to(outside)
    assert await storage.list("/F/to-restore") == []
    with pytest.raises(UnsafePath):
        await storage.stat("/F/to-restore/escape")
    with pytest.raises(UnsafePath):
        await storage.stat("/F/../../etc/passwd")


async def test_missing_things_are_not_found_or_none(storage: LocalStorage, tmp_path: Path) -> None:
    assert await storage.stat("/F/nope.jpg") is None
    with pytest.raises(NotFound):
        await storage.list("/nope")
    with pytest.raises(NotFound):
        await storage.download("/F/nope.jpg", tmp_path / "x")
    await storage.delete("/F/nope.jpg")  # a missing file is fine
