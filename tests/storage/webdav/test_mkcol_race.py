"""Creating the same folder from many workers at once is harmless on every server: one
folder, no error, whichever answer the losers get (201, 405, Apache's 403, a lock or a server
error while the winner's folder appears) — a PROPFIND decides before anything fails."""

from __future__ import annotations

import asyncio
import os

import pytest

from service.errors import StorageError
from service.storage.webdav import WebDAVStorage
from tests.servers import DavServer, FaultProxy
from tests.storage.webdav.conftest import disk

ROUNDS = 50
RACERS = 4  # jobs of one folder's scans, all creating `restored/<sub>/` at the same moment


async def test_fifty_races_to_create_the_same_folders_all_end_in_one_folder(
    storage: WebDAVStorage, server: DavServer, folder: str
) -> None:
    os.chmod(disk(server, folder), 0o777)

    async def race(r: int) -> list[BaseException | None]:
        target = f"{folder}/r{r:02d}/restored/1950s"
        return await asyncio.gather(
            *(storage.makedirs(target) for _ in range(RACERS)), return_exceptions=True
        )

    outcomes = await asyncio.gather(*(race(r) for r in range(ROUNDS)))
    failures = [o for round_ in outcomes for o in round_ if o is not None]
    assert failures == []
    for r in range(ROUNDS):
        made = disk(server, f"{folder}/r{r:02d}")
        assert sorted(p.name for p in made.iterdir()) == ["restored"]
        assert [p.name for p in (made / "restored").iterdir()] == ["1950s"]


@pytest.mark.parametrize("status", [403, 405, 423, 500])
async def test_a_mkcol_answered_anything_while_the_folder_appeared_is_success(
    proxied: WebDAVStorage, proxy: FaultProxy, server: DavServer, folder: str, status: int
) -> None:
    disk(server, f"{folder}/restored").mkdir()  # the other worker won
    proxy.fail("MKCOL", 5, status=status)  # and this one hears only refusals
    await proxied.makedirs(f"{folder}/restored")
    assert all(s == status for m, _, s in proxy.log if m == "MKCOL")
    assert any(m == "PROPFIND" for m, _, _ in proxy.log)  # it looked before giving up


async def test_a_file_where_the_folder_should_be_is_a_clear_error(
    storage: WebDAVStorage, server: DavServer, folder: str
) -> None:
    disk(server, f"{folder}/restored").write_bytes(b"not a folder")
    with pytest.raises(StorageError, match="not a folder"):
        await storage.makedirs(f"{folder}/restored")
