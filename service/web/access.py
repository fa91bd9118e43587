"""Which storage paths the dashboard may touch: inboxes and their `restored` siblings, nothing else.

Every path from a browser goes through `normalize` (which refuses `..`, NUL and backslashes)
and then must sit inside an inbox (``…/to-restore/…``) or the output folder beside one
(``…/restored/…`` whose parent also holds an inbox). The inbox list comes from the watcher's
own discovery, cached briefly so that browsing does not walk the whole storage on every click.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from service.errors import OutsideInboxes, UnsafePath
from service.runtime.services import Services
from service.storage.paths import is_within, normalize
from service.watch.poller import find_inboxes
from service.watch.rules import find_inbox, is_junk

INBOX_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Area:
    """A folder pair the dashboard shows: an inbox and its output sibling."""

    inbox: str
    output: str

    @property
    def parent(self) -> str:
        """The folder holding both."""
        return self.inbox.rsplit("/", 1)[0] or "/"


class Inboxes:
    """The inboxes found under WATCH_ROOT, refreshed at most every few seconds."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._areas: list[Area] = []
        self._at = 0.0

    async def areas(self, *, fresh: bool = False) -> list[Area]:
        """Every inbox with its output folder."""
        if fresh or time.monotonic() - self._at > INBOX_CACHE_SECONDS:
            svc = self.services
            found = await find_inboxes(svc.storage, svc.settings)
            out_name = svc.settings.output_name
            self._areas = [Area(i, f"{i.rsplit('/', 1)[0]}/{out_name}") for i in found]
            self._at = time.monotonic()
        return self._areas

    async def resolve(self, raw: str) -> tuple[str, Area, bool]:
        """Normalize `raw`; return it with its area and whether it lies in the inbox side.

        Raises UnsafePath for `..` and friends, OutsideInboxes for anything else outside.
        """
        path = normalize(raw)
        settings = self.services.settings
        for fresh in (False, True):
            for area in await self.areas(fresh=fresh):
                if is_within(path, area.inbox):
                    return path, area, True
                if is_within(path, area.output):
                    return path, area, False
            # An inbox created a moment ago: look again once before refusing.
            if find_inbox(
                path, settings.inbox_name, settings.watch_root
            ) is None and settings.output_name not in path.split("/"):
                break
        raise OutsideInboxes(f"not inside an inbox or its output folder: {path}")


def check_upload_name(name: str) -> str:
    """A single, non-junk file name for an upload, or UnsafePath."""
    name = name.strip()
    if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
        raise UnsafePath(f"not a plain file name: {name!r}")
    if is_junk(name):
        raise UnsafePath(f"this kind of file is never taken: {name!r}")
    return name
