"""Pick the storage from the settings: a local folder, or WebDAV when OWNCLOUD_URL is set."""

from __future__ import annotations

import httpx

from service.config.settings import Settings
from service.storage.base import Storage
from service.storage.local import LocalStorage


async def open_storage(settings: Settings, client: httpx.AsyncClient) -> Storage:
    """LocalStorage(DATA_DIR) without OWNCLOUD_URL, else a connected WebDAVStorage.

    The client is the process's shared one (built and closed in the lifespan / worker
    start-up), so the storage never closes it.
    """
    if not settings.owncloud_url:
        return LocalStorage(settings.data_dir)
    from service.storage.webdav import WebDAVStorage  # lxml only when WebDAV is used

    return await WebDAVStorage.connect(settings, client)
