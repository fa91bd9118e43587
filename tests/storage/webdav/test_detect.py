"""Server detection from status.php + capabilities, and the storage factory."""

from __future__ import annotations

from pathlib import Path

import httpx

from service.config.settings import Settings
from service.storage.factory import open_storage
from service.storage.local import LocalStorage
from service.storage.webdav import WebDAVStorage
from service.storage.webdav.detect import GENERIC, NEXTCLOUD, OCIS, OWNCLOUD10, classify
from tests.servers import DavServer


def test_ocis_is_told_by_product_not_by_its_legacy_version() -> None:
    status = {
        "installed": True,
        "version": "10.11.0.0",
        "productname": "Infinite Scale",
        "product": "Infinite Scale",
        "productversion": "7.1.2",
    }
    assert classify(status, None) == (OCIS, "Infinite Scale", "7.1.2")
    caps = {"capabilities": {"spaces": {"enabled": True}}}
    assert classify({"installed": True, "productname": ""}, caps)[0] == OCIS


def test_nextcloud_and_owncloud10_and_generic() -> None:
    nc = {
        "installed": True,
        "versionstring": "30.0.1",
        "productname": "Nextcloud",
        "extendedSupport": False,
    }
    assert classify(nc, None) == (NEXTCLOUD, "Nextcloud", "30.0.1")
    oc = {"installed": True, "versionstring": "10.15.0", "productname": "ownCloud"}
    assert classify(oc, None) == (OWNCLOUD10, "ownCloud", "10.15.0")
    assert classify(None, None)[0] == GENERIC


async def test_factory_gives_local_storage_without_owncloud_url(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as client:
        storage = await open_storage(Settings(data_dir=tmp_path), client)  # type: ignore[call-arg]
    assert isinstance(storage, LocalStorage)


async def test_factory_connects_webdav_with_owncloud_url(apache_server: DavServer) -> None:
    async with httpx.AsyncClient() as client:
        storage = await open_storage(Settings(owncloud_url=apache_server.url), client)  # type: ignore[call-arg]
        assert isinstance(storage, WebDAVStorage)
        assert storage.server_info.kind == GENERIC
        assert storage.server_info.files_root == "/dav/"
