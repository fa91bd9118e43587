"""Faults injected between WebDAVStorage and a real server: retried, or a clear error."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from service.errors import StorageError, StorageUnavailable
from service.storage.webdav import WebDAVStorage
from tests.servers import DavServer, FaultProxy
from tests.storage.webdav.conftest import FAST_RETRY, disk, settings_for


def statuses(proxy: FaultProxy, method: str) -> list[int]:
    return [s for m, _, s in proxy.log if m == method]


async def test_locked_put_is_retried_then_written_once(
    proxied: WebDAVStorage, proxy: FaultProxy, server: DavServer, folder: str
) -> None:
    proxy.fail("PUT", 1, status=423)
    await proxied.write_atomic(f"{folder}/a.jpg", b"content")
    assert statuses(proxy, "PUT") == [423, 201]
    assert [e.name for e in await proxied.list(folder)] == ["a.jpg"]
    assert disk(server, f"{folder}/a.jpg").read_bytes() == b"content"


async def test_locked_move_is_retried(
    proxied: WebDAVStorage, proxy: FaultProxy, folder: str
) -> None:
    proxy.fail("MOVE", 2, status=423)
    await proxied.write_atomic(f"{folder}/a.jpg", b"content")
    assert statuses(proxy, "MOVE")[:2] == [423, 423]
    assert [e.name for e in await proxied.list(folder)] == ["a.jpg"]


async def test_429_waits_as_long_as_retry_after_says(
    proxied: WebDAVStorage, proxy: FaultProxy, folder: str
) -> None:
    proxy.fail("PROPFIND", 1, status=429, retry_after="1")
    start = time.monotonic()
    assert await proxied.list(folder) == []
    assert time.monotonic() - start >= 1.0
    assert statuses(proxy, "PROPFIND") == [429, 207]


async def test_503_then_ok_on_download(
    proxied: WebDAVStorage, proxy: FaultProxy, server: DavServer, folder: str, tmp_path: Path
) -> None:
    (disk(server, folder) / "p.jpg").write_bytes(b"photo")
    proxy.fail("GET", 2, status=503)
    await proxied.download(f"{folder}/p.jpg", tmp_path / "p.jpg")
    assert (tmp_path / "p.jpg").read_bytes() == b"photo"
    assert statuses(proxy, "GET") == [503, 503, 200]


async def test_connection_dropped_mid_download_is_retried_and_complete(
    proxied: WebDAVStorage, proxy: FaultProxy, server: DavServer, folder: str, tmp_path: Path
) -> None:
    data = os.urandom(2 << 20)
    (disk(server, folder) / "big.jpg").write_bytes(data)
    proxy.fail("GET", 1, drop=True)
    entry = await proxied.download(f"{folder}/big.jpg", tmp_path / "big.jpg")
    assert (tmp_path / "big.jpg").read_bytes() == data
    assert entry.size == len(data)
    assert proxy.count("GET") == 2
    assert [p.name for p in tmp_path.iterdir()] == ["big.jpg"]


async def test_move_whose_answer_was_lost_is_not_duplicated(
    proxied: WebDAVStorage, proxy: FaultProxy, server: DavServer, folder: str
) -> None:
    # The server did the MOVE but the client never heard: the retry sees 404 on the source.
    proxy.fail("MOVE", 1, drop=True)
    entry = await proxied.write_atomic(f"{folder}/once.jpg", b"exactly once")
    assert entry.size == len(b"exactly once")
    assert [e.name for e in await proxied.list(folder)] == ["once.jpg"]


async def test_quota_507_is_a_storage_error_saying_quota_and_leaves_no_temp(
    proxied: WebDAVStorage, proxy: FaultProxy, folder: str
) -> None:
    proxy.fail("PUT", 1, status=507)
    with pytest.raises(StorageError, match="quota") as err:
        await proxied.write_atomic(f"{folder}/a.jpg", b"content")
    assert not isinstance(err.value, StorageUnavailable)
    assert statuses(proxy, "PUT") == [507]  # never retried blindly
    assert await proxied.list(folder) == []


async def test_403_is_a_storage_error(
    proxied: WebDAVStorage, proxy: FaultProxy, folder: str
) -> None:
    proxy.fail("MKCOL", 1, status=403)  # and no folder appears: a refusal, not a lost race
    with pytest.raises(StorageError, match="403 Forbidden"):
        await proxied.makedirs(f"{folder}/new")


async def test_401_is_reported_once_and_never_looped(
    proxied: WebDAVStorage, proxy: FaultProxy, folder: str
) -> None:
    proxy.fail("PROPFIND", 5, status=401)
    with pytest.raises(StorageError, match="OWNCLOUD_USER / app password"):
        await proxied.list(folder)
    assert statuses(proxy, "PROPFIND") == [401]


async def test_persistent_503_gives_up_with_storage_unavailable(
    proxied: WebDAVStorage, proxy: FaultProxy, folder: str
) -> None:
    proxy.fail("PROPFIND", 100, status=503, retry_after="0")
    with pytest.raises(StorageUnavailable) as err:
        await proxied.list(folder)
    assert proxy.count("PROPFIND") == FAST_RETRY.attempts
    assert err.value.retry_after == 0


async def test_long_retry_after_is_handed_to_the_job_queue(
    proxied: WebDAVStorage, proxy: FaultProxy, folder: str
) -> None:
    proxy.fail("PROPFIND", 1, status=429, retry_after="600")
    with pytest.raises(StorageUnavailable) as err:
        await proxied.list(folder)
    assert err.value.retry_after == 600
    assert proxy.count("PROPFIND") == 1


async def test_wrong_password_fails_connect_with_a_clear_message(
    wsgidav_server: DavServer, client: httpx.AsyncClient
) -> None:
    settings = settings_for(wsgidav_server, owncloud_password="wrong")
    with pytest.raises(StorageError, match="app password"):
        await WebDAVStorage.connect(settings, client, retry=FAST_RETRY)


async def test_unreachable_server_is_transient(
    client: httpx.AsyncClient, wsgidav_server: DavServer
) -> None:
    from tests.servers import free_port

    settings = settings_for(wsgidav_server, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageUnavailable):
        await WebDAVStorage.connect(settings, client, retry=FAST_RETRY)
