"""The watcher: finds inboxes, notices settled new scans and queues them, over any Storage.

Cheap when nothing changes: one Depth-0 look at each inbox, and a folder is listed only when
its etag moved (servers propagate etags up the tree) or the storage gives folders no etag
(a local disk). Every `FULL_RESCAN_EVERY` polls everything is listed regardless: the safety
net behind the short-cut, like paperless-ngx's periodic rescan. Webhooks only make a poll of
one folder happen sooner; they never replace polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from service.config.catalog import Catalog
from service.config.settings import Settings
from service.constants import FULL_RESCAN_EVERY
from service.errors import NotFound, PhotoRestoreError
from service.queue import JobQueue, JobRequest
from service.storage.base import Entry, Storage
from service.storage.paths import is_within, name, nfc, normalize, parent
from service.watch.ledger import Ledger
from service.watch.rules import Placement, find_inbox, is_junk, place

log = logging.getLogger(__name__)
POLL_EVERYTHING = "*"  # a trigger that names no folder (oCIS events carry ids, not paths)
EMPTY_GRACE = 10


@dataclass
class PollReport:
    """What one poll did, for logs, metrics and tests."""

    inboxes: int = 0
    listed: int = 0
    candidates: int = 0
    queued: list[str] = field(default_factory=list)
    pending: int = 0  # seen but not settled yet
    skipped_done: int = 0


async def find_inboxes(
    storage: Storage,
    settings: Settings,
    *,
    etag_memo: dict[str, str] | None = None,
    known: Sequence[str] = (),
) -> list[str]:
    """Every inbox folder under WATCH_ROOT (outputs and junk are not walked into).

    With `etag_memo` (folder → etag when last walked, updated here), a sub-tree whose etag is
    unchanged is not listed again and keeps the inboxes of `known` found in it before.
    """
    found: list[str] = []
    inbox, output = nfc(settings.inbox_name), nfc(settings.output_name)

    async def walk(folder: str, etag: str | None) -> None:
        if etag_memo is not None and etag is not None and etag_memo.get(folder) == etag:
            found.extend(i for i in known if is_within(i, folder) and i != folder)
            return
        try:
            children = await storage.list(folder)
        except NotFound:
            return
        for child in children:
            if not child.is_dir or is_junk(child.name):
                continue
            if nfc(child.name) == inbox:
                found.append(child.path)
            elif nfc(child.name) != output:
                await walk(child.path, child.etag)
        if etag_memo is not None and etag is not None:
            etag_memo[folder] = etag

    root = settings.watch_root
    entry = await storage.stat(root)
    if entry is None or not entry.is_dir:
        log.warning("WATCH_ROOT %s does not exist (yet)", root)
        return []
    if nfc(entry.name) == inbox:
        return [entry.path]
    await walk(root, entry.etag)
    return sorted(set(found))


class Watcher:
    """Polls the storage for settled files in inboxes and submits jobs for them."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        catalog: Catalog,
        queue: JobQueue,
        ledger: Ledger,
        *,
        default_chain: str,
        clock: Callable[[], float] = time.time,
        trust_folder_etags: bool | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.catalog = catalog
        self.queue = queue
        self.ledger = ledger
        self.default_chain = default_chain
        self.clock = clock
        self.inboxes: list[str] = []
        self._walk_etags: dict[str, str] = {}
        self._polls = 0
        self._arrival_mtime = bool(getattr(storage, "mtime_is_arrival", False))
        # Folder etags are a short-cut only where the server propagates them up the tree
        # (ownCloud, Nextcloud, oCIS); Apache's change only for direct children.
        # None: ask the storage (its server_info knows the server kind).
        info = getattr(storage, "server_info", None)
        self._trust_etags = (
            bool(getattr(info, "etags_propagate", True))
            if trust_folder_etags is None
            else trust_folder_etags
        )
        self._outputs: dict[str, dict[str, Entry] | None] = {}
        self._formats = {n: c.output_format for n, c in catalog.chains.items()}

    # -- inbox discovery -------------------------------------------------------------------
    async def discover(self, *, full: bool = False) -> list[str]:
        """Walk WATCH_ROOT for inbox folders, skipping sub-trees whose etag did not change."""
        if full or not self._trust_etags:
            self._walk_etags = {}  # a full walk lists everything and starts a new memo
        memo = self._walk_etags if self._trust_etags else None
        self.inboxes = await find_inboxes(
            self.storage, self.settings, etag_memo=memo, known=self.inboxes
        )
        return self.inboxes

    # -- polling ---------------------------------------------------------------------------
    async def poll_once(self, *, full: bool = False) -> PollReport:
        """One reconcile pass over every inbox."""
        self._polls += 1
        full = full or self._polls % FULL_RESCAN_EVERY == 1
        report = PollReport()
        self._outputs = {}
        await self.discover(full=full)
        report.inboxes = len(self.inboxes)
        for inbox in self.inboxes:
            try:
                entry = await self.storage.stat(inbox)
                if entry is None:
                    continue
                await self._scan(entry, report, full=full)
            except PhotoRestoreError as exc:
                log.warning("could not look into %s: %s", inbox, exc)
        return report

    async def poll_path(self, path: str) -> PollReport:
        """Look now at the folder of `path` (a webhook's hint); outside every inbox: nothing."""
        report = PollReport()
        self._outputs = {}
        path = normalize(path)
        found = find_inbox(path, self.settings.inbox_name, self.settings.watch_root)
        if found is None:
            return report
        inbox, below = found
        if inbox not in self.inboxes:
            self.inboxes = sorted({*self.inboxes, inbox})
        folder = inbox
        for part in below:
            candidate = f"{folder}/{part}"
            entry = await self.storage.stat(candidate)
            if entry is None or not entry.is_dir:
                break
            folder = candidate
        entry = await self.storage.stat(folder)
        if entry is not None and entry.is_dir:
            await self._scan(entry, report, full=True)
        return report

    async def _scan(self, folder: Entry, report: PollReport, *, full: bool) -> bool:
        """Look into a folder if it may have changed; True when everything below is settled."""
        if (
            not full
            and folder.etag is not None
            and self._trust_etags
            and await self.ledger.folder_etag(folder.path) == folder.etag
        ):
            return True
        try:
            children = await self.storage.list(folder.path)
        except NotFound:
            return True
        report.listed += 1
        quiet = True
        for child in children:
            if is_junk(child.name):
                continue
            if child.is_dir:
                quiet = await self._scan(child, report, full=full) and quiet
            else:
                quiet = await self._consider(child, report) and quiet
        # Only a folder whose every file is settled may be skipped next time by its etag.
        await self.ledger.set_folder_etag(folder.path, folder.etag if quiet else None)
        return quiet

    async def _consider(self, entry: Entry, report: PollReport) -> bool:
        """Queue a settled file; returns False while it is still settling."""
        placement = place(
            entry.path,
            inbox_name=self.settings.inbox_name,
            output_name=self.settings.output_name,
            watch_root=self.settings.watch_root,
            chains=self.catalog.chains,
            default_chain=self.default_chain,
            output_format=self._formats,
        )
        if placement is None:
            return True
        report.candidates += 1
        key, version = entry.identity, entry.version
        if await self.ledger.is_taken(key, version):
            return True
        if not entry.ready:
            report.pending += 1
            return False
        same, first_seen = await self.ledger.observe(key, version, entry.size)
        # An empty file is usually an upload that has not started; only one that stays empty
        # for EMPTY_GRACE settle periods is taken (and then fails with "the file is empty").
        settle = self.settings.settle_seconds * (EMPTY_GRACE if entry.size == 0 else 1)
        age = self.clock() - (entry.mtime if self._arrival_mtime else first_seen)
        if entry.size == 0:
            same = same and self.clock() - first_seen >= settle
        if not (same or (self._arrival_mtime and age >= settle)):
            report.pending += 1
            return False
        if await self._already_done(entry, placement):
            report.skipped_done += 1
            await self.ledger.mark_taken(key, version)
            return True
        record = await self.queue.submit(
            JobRequest(
                source=entry.path,
                output=placement.output,
                chain=placement.chain,
                identity=key,
                version=version,
                origin="watcher",
            )
        )
        await self.ledger.mark_taken(key, version)
        if record is not None:
            report.queued.append(record.id)
            log.info("queued %s with chain %s (job %s)", entry.path, placement.chain, record.id)
        return True

    async def _already_done(self, entry: Entry, placement: Placement) -> bool:
        """A result (or a failure note) newer than the original means: nothing to redo.

        The output folder is listed once per poll rather than stat-ing two names per file:
        a first poll over 10,000 files would otherwise cost 20,000 requests.
        """
        folder = parent(placement.output)
        if folder not in self._outputs:
            try:
                listing = await self.storage.list(folder)
                self._outputs[folder] = {nfc(e.name): e for e in listing}
            except NotFound:
                self._outputs[folder] = None
        children = self._outputs[folder]
        if not children:
            return False
        for path in (placement.output, placement.failed_note):
            other = children.get(nfc(name(path)))
            if other is not None and not other.is_dir and other.mtime >= entry.mtime:
                return True
        return False


async def run_watch_loop(
    watcher: Watcher,
    *,
    interval: float,
    settle: float,
    triggers: Callable[[], Awaitable[list[str]]] | None = None,
    lock: Callable[[], Awaitable[bool]] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Poll forever: every `interval`, sooner (after `settle`) while files are settling,
    and at once for folders named by webhooks (`triggers`)."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        delay = interval
        try:
            if lock is None or await lock():
                report = await watcher.poll_once()
                if report.pending:
                    delay = min(interval, max(settle, 0.5))
        except Exception:  # keep watching whatever one poll hit
            log.exception("poll failed")
        deadline = time.monotonic() + delay
        while not stop.is_set() and time.monotonic() < deadline:
            if triggers is not None:
                try:
                    paths = await triggers()
                    if POLL_EVERYTHING in paths:
                        await watcher.poll_once()
                    for path in paths:
                        if path != POLL_EVERYTHING:
                            await watcher.poll_path(path)
                except Exception:
                    log.exception("triggered look failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), timeout=min(0.5, max(0.0, deadline - time.monotonic()))
                )
