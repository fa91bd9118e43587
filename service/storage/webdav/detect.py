"""Which server is this, and where is the user's files root?

`status.php` (unauthenticated) names the product; the OCS capabilities (authenticated) tell
chunking/TUS support and confirm oCIS by `spaces`. The decision follows the spec §1.3:
"Infinite Scale" or `spaces.enabled` → oCIS (its `version` is a legacy "10.11.0.0", so the
version string never decides); "Nextcloud" or `extendedSupport` → Nextcloud; any other
status.php → ownCloud 10; no status.php at all → a generic WebDAV server, for which
`OWNCLOUD_DAV_PATH` (or the URL itself) is the root.

The files root uses the user *id*, which may differ from the login (e-mail logins): it is read
from `GET /ocs/v1.php/cloud/user`, and for oCIS the personal space comes from Graph.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from service.errors import StorageError, StorageUnavailable
from service.storage.webdav.client import DavClient, quote_path

log = logging.getLogger(__name__)

OWNCLOUD10 = "owncloud10"
NEXTCLOUD = "nextcloud"
OCIS = "ocis"
GENERIC = "webdav"

OCS_HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}


@dataclass
class ServerInfo:
    """What `photo-restore check` prints and what the uploader picks its protocol by."""

    kind: str = GENERIC
    product: str = "WebDAV"
    version: str = ""
    user_id: str | None = None
    files_root: str = "/"  # server path (quoted, ends with '/') of the storage root
    chunking: str | None = None  # "1.0" on OC10/NC when advertised
    tus: bool = False
    tus_max_chunk: int | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)

    @property
    def etags_propagate(self) -> bool:
        """True when a folder's etag changes for changes deep below it (ownCloud family).

        Plain servers (Apache mod_dav_fs) give folder etags that change only when a direct
        child is added or removed, so skipping a folder by its etag can miss sub-folders.
        """
        return self.kind != GENERIC

    @property
    def atomic_put(self) -> bool:
        """True when a PUT is atomic for readers on its own (the ownCloud family; see
        `WebDAVStorage.write_atomic`), so no temporary name and MOVE are needed."""
        return self.kind != GENERIC

    def describe(self) -> str:
        """One line for `photo-restore check`."""
        ver = f" {self.version}" if self.version else ""
        user = f" as {self.user_id}" if self.user_id else ""
        return f"{self.product}{ver} ({self.kind}){user}, files at {self.files_root}"


def _json(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(resp.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def classify(status: dict[str, Any] | None, caps: dict[str, Any] | None) -> tuple[str, str, str]:
    """(kind, product name, version) from status.php and the capabilities' `ocs.data`."""
    if status is None:
        return GENERIC, "WebDAV", ""
    product = str(status.get("productname") or status.get("product") or "")
    capabilities = (caps or {}).get("capabilities", {}) if caps else {}
    spaces = capabilities.get("spaces", {}) if isinstance(capabilities, dict) else {}
    if "infinite scale" in product.lower() or (isinstance(spaces, dict) and spaces.get("enabled")):
        version = str(status.get("productversion") or status.get("versionstring") or "")
        return OCIS, product or "Infinite Scale", version
    if "nextcloud" in product.lower() or "extendedSupport" in status:
        return NEXTCLOUD, product or "Nextcloud", str(status.get("versionstring") or "")
    return OWNCLOUD10, product or "ownCloud", str(status.get("versionstring") or "")


async def _get_json(dav: DavClient, path: str, *, auth: bool, what: str) -> dict[str, Any] | None:
    """GET a JSON document; None when the server has no such endpoint (404, HTML, …)."""
    url = dav.base_url + path
    try:
        if auth:
            resp = await dav.call(
                "GET",
                url,
                what=what,
                headers=OCS_HEADERS,
                ok=lambda r: r.status_code < 500 and r.status_code != 401,
            )
        else:
            dav.requests += 1
            resp = await dav.http.get(url, headers=OCS_HEADERS)
    except httpx.TransportError as exc:
        raise StorageUnavailable(f"{what}: cannot reach {dav.base_url}: {exc}") from exc
    if resp.status_code != 200:
        return None
    return _json(resp)


async def detect(dav: DavClient, user: str | None, dav_path: str | None) -> ServerInfo:
    """Probe the server and fill a ServerInfo; `dav_path` (OWNCLOUD_DAV_PATH) wins for the root."""
    status = await _get_json(dav, "/status.php", auth=False, what="status.php")
    if status is not None and "installed" not in status:
        status = None  # some other app's JSON, not an ownCloud-family status
    caps: dict[str, Any] | None = None
    if status is not None:
        doc = await _get_json(
            dav, "/ocs/v1.php/cloud/capabilities?format=json", auth=True, what="capabilities"
        )
        caps = (doc or {}).get("ocs", {}).get("data") if doc else None
    kind, product, version = classify(status, caps)
    info = ServerInfo(kind=kind, product=product, version=version, capabilities=caps or {})
    capabilities = (caps or {}).get("capabilities", {})
    dav_caps = capabilities.get("dav", {}) if isinstance(capabilities, dict) else {}
    if isinstance(dav_caps, dict) and dav_caps.get("chunking"):
        info.chunking = str(dav_caps["chunking"])
    tus = (capabilities.get("files", {}) or {}).get("tus_support") if capabilities else None
    if isinstance(tus, dict) and tus.get("version"):
        info.tus = True
        info.tus_max_chunk = int(tus.get("max_chunk_size") or 0) or None

    prefix = urlsplit(dav.base_url).path.rstrip("/")
    if kind != GENERIC:
        info.user_id = await _user_id(dav) or user
    if dav_path:
        info.files_root = _as_root(prefix, dav_path)
    elif kind == OCIS:
        space = await _personal_space(dav)
        if space:
            info.files_root = f"{prefix}/remote.php/dav/spaces/{quote_path(space)}/"
        else:
            info.files_root = f"{prefix}/remote.php/dav/files/{quote_path(info.user_id or '')}/"
    elif kind in (OWNCLOUD10, NEXTCLOUD):
        if not info.user_id:
            raise StorageError("cannot tell the user id: set OWNCLOUD_USER or OWNCLOUD_DAV_PATH")
        info.files_root = f"{prefix}/remote.php/dav/files/{quote_path(info.user_id)}/"
    else:
        info.files_root = prefix + "/"  # a plain WebDAV server: the URL is the root
    return info


def _as_root(prefix: str, dav_path: str) -> str:
    """OWNCLOUD_DAV_PATH as a quoted server path ending in '/' (a full URL is accepted too)."""
    if dav_path.startswith(("http://", "https://")):
        path = urlsplit(dav_path).path
    else:
        path = prefix + "/" + dav_path.lstrip("/")
    # Quote what is not quoted yet ('$' of oCIS space ids); keep existing escapes as they are.
    if "%" not in path:
        path = quote_path(path)
    return path.rstrip("/") + "/"


async def _user_id(dav: DavClient) -> str | None:
    doc = await _get_json(dav, "/ocs/v1.php/cloud/user?format=json", auth=True, what="cloud/user")
    try:
        uid = doc["ocs"]["data"]["id"] if doc else None
    except (KeyError, TypeError):
        return None
    return str(uid) if uid else None


async def _personal_space(dav: DavClient) -> str | None:
    """The oCIS personal drive id (`storage$space`), from Graph."""
    doc = await _get_json(
        dav,
        "/graph/v1.0/me/drives?$filter=driveType%20eq%20'personal'",
        auth=True,
        what="graph drives",
    )
    for drive in (doc or {}).get("value", []) or []:
        if isinstance(drive, dict) and drive.get("driveType") == "personal" and drive.get("id"):
            return str(drive["id"])
    return None
