"""Big results go up in each server's chunking protocol and arrive whole, name and mtime kept:
Nextcloud's chunking v2 and oCIS's TUS, served as those servers' code speaks them in front of a
real wsgidav (tests/storage/webdav/chunking_server.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from service.errors import StorageError
from service.storage.webdav.client import DavClient
from service.storage.webdav.detect import NEXTCLOUD, OCIS, ServerInfo
from service.storage.webdav.storage import WebDAVStorage
from service.storage.webdav.upload import CHUNK_SIZE
from tests.storage.webdav.chunking_server import FILES, PASSWORD, USER, ChunkingFront, Fault
from tests.storage.webdav.chunking_server import start_chunking_server as start
from tests.storage.webdav.conftest import FAST_RETRY

MIB = 1 << 20
SIZE = 12 * MIB  # one full 10 MiB chunk and a short last one
TARGET = "/Family/restored/big scan #1.tif"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "files" / "Family" / "restored").mkdir(parents=True)
    return tmp_path / "files"


@pytest.fixture
def front(root: Path, request: pytest.FixtureRequest) -> Iterator[ChunkingFront]:
    max_chunk = getattr(request, "param", None)
    server, chunking = start(root, tus_max_chunk=max_chunk)
    yield chunking
    server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def storage_for(front: ChunkingFront, http: httpx.AsyncClient, info: ServerInfo) -> WebDAVStorage:
    dav = DavClient(http, front.base_url, httpx.BasicAuth(USER, PASSWORD), FAST_RETRY)
    return WebDAVStorage(dav, info, chunk_threshold=MIB)


def nextcloud(front: ChunkingFront, http: httpx.AsyncClient) -> WebDAVStorage:
    info = ServerInfo(kind=NEXTCLOUD, user_id=USER, chunking="1.0", files_root=FILES)
    return storage_for(front, http, info)


def ocis(front: ChunkingFront, http: httpx.AsyncClient) -> WebDAVStorage:
    info = ServerInfo(kind=OCIS, user_id=USER, tus=True, files_root=FILES)
    info.tus_max_chunk = front.tus_max_chunk
    return storage_for(front, http, info)


def requests(front: ChunkingFront, method: str) -> list[tuple[str, dict[str, str]]]:
    return [(path, headers) for m, path, headers in front.log if m == method]


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.startswith(".")]


@pytest.fixture
def data() -> bytes:
    return os.urandom(SIZE)


async def test_nextcloud_chunks_arrive_whole_under_the_right_name(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path, data: bytes
) -> None:
    entry = await nextcloud(front, http).write_atomic(TARGET, data)
    assert (root / TARGET.lstrip("/")).read_bytes() == data
    assert entry.size == SIZE
    [(folder, mkcol)] = requests(front, "MKCOL")
    puts = requests(front, "PUT")
    assert [p.rsplit("/", 1)[1] for p, _ in puts] == ["00001", "00002"]
    assert [h["Content-Length"] for _, h in puts] == [str(CHUNK_SIZE), str(SIZE - CHUNK_SIZE)]
    [(move, assemble)] = requests(front, "MOVE")
    assert move == folder + "/.file"
    temp = unquote(urlsplit(mkcol["Destination"]).path).rsplit("/", 1)[1]
    assert temp.startswith(".restore-")  # the chunks assemble into the temp name, then MOVE
    for headers in (mkcol, *(h for _, h in puts), assemble):
        assert headers["Destination"] == mkcol["Destination"]
        assert headers["Oc-Total-Length"] == str(SIZE)
    assert front.chunks == {}
    assert leftovers(root) == []


async def test_nextcloud_upload_from_a_file_keeps_its_mtime(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path, tmp_path: Path, data: bytes
) -> None:
    local = tmp_path / "result.tif"
    local.write_bytes(data)
    await nextcloud(front, http).write_atomic(TARGET, local, mtime=1_600_000_000)
    target = root / TARGET.lstrip("/")
    assert target.read_bytes() == data
    assert target.stat().st_mtime == 1_600_000_000
    [(_path, assemble)] = requests(front, "MOVE")
    assert assemble["X-Oc-Mtime"] == "1600000000"


async def test_nextcloud_chunk_answered_503_is_sent_again(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path, data: bytes
) -> None:
    front.faults.append(Fault("PUT", "/00001", 503))
    await nextcloud(front, http).write_atomic(TARGET, data)
    assert [p.rsplit("/", 1)[1] for p, _ in requests(front, "PUT")] == ["00001", "00001", "00002"]
    assert (root / TARGET.lstrip("/")).read_bytes() == data


async def test_nextcloud_chunk_refused_for_good_aborts_the_upload(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path, data: bytes
) -> None:
    front.faults.append(Fault("PUT", "/00002", 507))
    with pytest.raises(StorageError, match="507"):
        await nextcloud(front, http).write_atomic(TARGET, data)
    [(folder, _mkcol)] = requests(front, "MKCOL")
    assert [p for p, _ in requests(front, "DELETE")] == [folder]  # the server frees it at once
    assert front.chunks == {}
    assert not (root / TARGET.lstrip("/")).exists()
    assert leftovers(root) == []


async def test_a_small_result_is_one_plain_put_even_where_chunking_is_offered(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path
) -> None:
    await nextcloud(front, http).write_atomic(TARGET, b"small")
    await ocis(front, http).write_atomic(TARGET + ".2", b"small")
    assert front.log == []  # neither protocol was spoken: wsgidav took plain PUTs
    assert (root / TARGET.lstrip("/")).read_bytes() == b"small"


async def test_tus_upload_arrives_whole_under_the_right_name(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path, data: bytes
) -> None:
    await ocis(front, http).write_atomic(TARGET, data, mtime=1_600_000_000)
    target = root / TARGET.lstrip("/")
    assert target.read_bytes() == data
    assert target.stat().st_mtime == 1_600_000_000
    [(collection, create)] = requests(front, "POST")
    assert collection == FILES + "Family/restored/"
    assert create["Upload-Length"] == str(SIZE)
    patches = requests(front, "PATCH")
    assert [h["Upload-Offset"] for _, h in patches] == ["0", str(CHUNK_SIZE)]
    assert all(h["Content-Type"] == "application/offset+octet-stream" for _, h in patches)
    assert leftovers(root) == []


@pytest.mark.parametrize("front", [4 * MIB], indirect=True)
async def test_tus_keeps_to_the_servers_largest_chunk(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path, data: bytes
) -> None:
    await ocis(front, http).write_atomic(TARGET, data)
    sizes = [int(h["Content-Length"]) for _, h in requests(front, "PATCH")]
    assert sizes == [4 * MIB, 4 * MIB, 4 * MIB]
    assert (root / TARGET.lstrip("/")).read_bytes() == data


async def test_tus_resumes_where_the_server_stands_after_a_lost_answer(
    front: ChunkingFront, http: httpx.AsyncClient, root: Path, data: bytes
) -> None:
    # A proxy timed out mid-PATCH: the server kept 1 MiB, we got a 504 and try offset 0 again.
    front.faults.append(Fault("PATCH", "/data/", 504, keep=MIB))
    await ocis(front, http).write_atomic(TARGET, data)
    offsets = [h["Upload-Offset"] for _, h in requests(front, "PATCH")]
    assert offsets == ["0", "0", str(MIB), str(MIB + CHUNK_SIZE)]  # 504, 409, then resumed
    assert len(requests(front, "HEAD")) == 1
    assert (root / TARGET.lstrip("/")).read_bytes() == data
