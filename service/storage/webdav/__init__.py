"""WebDAV storage for ownCloud 10, Nextcloud, oCIS and plain WebDAV servers.

Modules, one concern each: `xml` (hardened multistatus parsing), `client` (HTTP, retries,
status → error), `detect` (which server, where the files root is), `upload` (chunked
protocols), `storage` (the Storage protocol itself).
"""

from service.storage.webdav.detect import ServerInfo
from service.storage.webdav.storage import WebDAVStorage

__all__ = ["ServerInfo", "WebDAVStorage"]
