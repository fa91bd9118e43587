"""Real WebDAV servers for the storage tests: wsgidav and Debian's Apache mod_dav.

Servers live for the whole session (starting Apache costs ~0.3 s); each test works in its own
folder, and faults go through a fresh FaultProxy per test.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from service.config.settings import Settings
from service.retry import RetryPolicy
from service.storage.webdav import WebDAVStorage
from tests.servers import DavServer, FaultProxy, start_apache, start_wsgidav

FAST_RETRY = RetryPolicy(attempts=4, base=0.05, max_delay=0.2, max_wait=5.0)


@pytest.fixture(scope="session")
def wsgidav_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    server = start_wsgidav(tmp_path_factory.mktemp("wsgidav"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def apache_server() -> Iterator[DavServer]:
    server = start_apache()
    yield server
    server.stop()


@pytest.fixture(params=["wsgidav", "apache"])
def server(request: pytest.FixtureRequest) -> DavServer:
    return request.getfixturevalue(f"{request.param}_server")


def settings_for(server: DavServer, url: str | None = None, **kw: object) -> Settings:
    values: dict[str, object] = {
        "owncloud_url": url or server.url,
        "owncloud_user": server.user,
        "owncloud_password": server.password,
        "owncloud_dav_path": server.dav_path,
    }
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


@pytest.fixture
def folder() -> str:
    """A fresh top-level folder name per test, so tests never see each other's files."""
    return f"/t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def storage(server: DavServer, client: httpx.AsyncClient, folder: str) -> WebDAVStorage:
    st = await WebDAVStorage.connect(settings_for(server), client, retry=FAST_RETRY)
    await st.makedirs(folder)
    return st


@pytest.fixture
async def proxied(
    proxy: FaultProxy, server: DavServer, client: httpx.AsyncClient, folder: str
) -> WebDAVStorage:
    """Storage that reaches the server through the fault proxy."""
    st = await WebDAVStorage.connect(settings_for(server, proxy.url), client, retry=FAST_RETRY)
    await st.makedirs(folder)
    proxy.reset()
    return st


def disk(server: DavServer, path: str) -> Path:
    """Where a storage path lives on the server's disk (to play the user's sync client)."""
    return server.root / path.lstrip("/")
