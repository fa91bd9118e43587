"""The watcher: finds inboxes, notices settled new scans and queues them, over any Storage.

One request per poll for the whole account where the server propagates etags up the tree
(ownCloud 10, Nextcloud, oCIS; docs/owncloud.md §2.5): a Depth-0 look at WATCH_ROOT, and only
when its etag moved, a walk down along the folders whose etags moved. Nextcloud folds the etags
of mounts below a folder (shares, external storage it knows of) into the folder's own
(`OC\\Files\\FileInfo::getEtag`), so a share's change shows at the root too.

Behind the short-cut a safety net re-lists one known folder every `SAFETY_NET_EVERY` polls, in
turn, whatever the etags say (changes made outside the server that never propagated), so its
cost is a small bounded share of the requests however large the account, like
paperless-ngx's periodic rescan but spread out. Where etags are not trusted (plain WebDAV,
local folders) every folder is listed every poll.

Webhooks and change feeds only make the watcher look at one folder sooner (`poll_path`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from service.config.catalog import Catalog
from service.config.settings import Settings
from service.constants import SAFETY_NET_EVERY
from service.errors import NotFound
from service.queue import JobQueue, JobRequest
from service.storage.base import Entry, Storage
from service.storage.paths import is_within, name, nfc, normalize, parent
from service.watch.ledger import Ledger
from service.watch.rules import Placement, find_inbox, is_junk, note_is_temporary, place

log = logging.getLogger(__name__)
POLL_EVERYTHING = "*"  # a trigger that names no folder (oCIS events carry ids, not paths)
EMPTY_GRACE = 10
NOTE_READ_LIMIT = 16 * 1024  # a failure note is a few hundred bytes


@dataclass
class PollReport:
    """What one poll did, for logs, metrics and tests."""

    inboxes: int = 0
    listed: int = 0
    candidates: int = 0
    queued: list[str] = field(default_factory=list)
    pending: int = 0  # seen but not settled yet
    skipped_done: int = 0


class Browse(Protocol):
    """The part of Storage that finding inboxes needs."""

    async def stat(self, path: str) -> Entry | None:
        """The entry at `path`, or None."""
        ...

    async def list(self, path: str) -> list[Entry]:
        """The direct children of a folder."""
        ...


async def find_inboxes(storage: Browse, settings: Settings) -> list[str]:
    """Every inbox folder under WATCH_ROOT (outputs and junk are not walked into)."""
    inbox, output = nfc(settings.inbox_name), nfc(settings.output_name)
    root = await storage.stat(settings.watch_root)
    if root is None or not root.is_dir:
        log.warning("WATCH_ROOT %s does not exist (yet)", settings.watch_root)
        return []
    if nfc(root.name) == inbox:
        return [root.path]
    found: list[str] = []
    todo = [root.path]
    while todo:
        try:
            children = await storage.list(todo.pop())
        except NotFound:
            continue
        for child in children:
            if not child.is_dir or is_junk(child.name) or nfc(child.name) == output:
                continue
            (found if nfc(child.name) == inbox else todo).append(child.path)
    return sorted(found)


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
        self._memo: dict[str, str] = {}  # folder → etag when all below it was settled
        self._walked = False
        self._polls = 0
        self._sweep: deque[str] = deque()
        self._outputs: dict[str, dict[str, Entry] | None] = {}
        self._formats = {n: c.output_format for n, c in catalog.chains.items()}

    # -- polling ---------------------------------------------------------------------------
    async def discover(self) -> list[str]:
        """Walk WATCH_ROOT for inbox folders, queueing nothing (a poll finds them on its way)."""
        self.inboxes = await find_inboxes(self.storage, self.settings)
        return self.inboxes

    async def poll_once(self, *, full: bool = False) -> PollReport:
        """One reconcile pass: the whole tree where etags moved (everything when `full`, on the
        first poll, or where etags are not trusted), plus this poll's share of the safety net."""
        self._polls += 1
        report = PollReport()
        self._outputs = {}
        full = full or not self._walked or not self._trust_etags
        root = await self.storage.stat(self.settings.watch_root)
        if root is None or not root.is_dir:
            log.warning("WATCH_ROOT %s does not exist (yet)", self.settings.watch_root)
            self.inboxes = []
            return report
        found: set[str] = set()
        in_inbox = nfc(root.name) == nfc(self.settings.inbox_name)
        if in_inbox:
            found.add(root.path)
        await self._visit(root, report, found, in_inbox=in_inbox, force=full)
        if sorted(found) != self.inboxes or not self._walked:
            log.info("watching %d inbox(es) under %s", len(found), self.settings.watch_root)
        self.inboxes = sorted(found)
        if full:
            self._walked = True
            self._sweep.clear()
        elif self._polls % SAFETY_NET_EVERY == 0:
            await self._sweep_one(report)
        report.inboxes = len(self.inboxes)
        return report

    async def poll_path(self, path: str) -> PollReport:
        """Look now at the folder of `path` (a webhook's hint); outside every inbox: nothing."""
        report = PollReport()
        self._outputs = {}
        found = find_inbox(normalize(path), self.settings.inbox_name, self.settings.watch_root)
        if found is None:
            return report
        inbox, below = found
        # The folder named (triggers name folders), else the nearest one above it that exists.
        folder = "/".join([inbox, *below])
        entry = await self.storage.stat(folder)
        while (entry is None or not entry.is_dir) and folder != inbox:
            folder = parent(folder)
            entry = await self.storage.stat(folder)
        if entry is None or not entry.is_dir:
            return report
        if inbox not in self.inboxes:
            self.inboxes = sorted({*self.inboxes, inbox})
        if not await self._visit(entry, report, set(), in_inbox=True, force=True):
            self._forget_above(entry.path)
        return report

    # -- the walk --------------------------------------------------------------------------
    async def _visit(
        self,
        folder: Entry,
        report: PollReport,
        found: set[str],
        *,
        in_inbox: bool,
        force: bool,
        force_self: bool = False,
    ) -> bool:
        """List a folder that may have changed and go down; True when all below is settled."""
        if (
            not (force or force_self)
            and folder.etag is not None
            and self._memo.get(folder.path) == folder.etag
        ):
            found.update(i for i in self.inboxes if is_within(i, folder.path))
            return True
        try:
            children = await self.storage.list(folder.path)
        except NotFound:
            self._memo.pop(folder.path, None)
            return True
        report.listed += 1
        quiet = True
        inbox, output = nfc(self.settings.inbox_name), nfc(self.settings.output_name)
        for child in children:
            if is_junk(child.name):
                continue
            if not child.is_dir:
                if in_inbox:
                    quiet = await self._consider(child, report) and quiet
                continue
            child_name = nfc(child.name)
            if not in_inbox and child_name == output:
                continue
            if not in_inbox and child_name == inbox:
                found.add(child.path)
            below = in_inbox or child_name == inbox
            quiet = await self._visit(child, report, found, in_inbox=below, force=force) and quiet
        # Only a folder whose every file is settled may be skipped next time by its etag.
        if quiet and folder.etag is not None and self._trust_etags:
            self._memo[folder.path] = folder.etag
        else:
            self._memo.pop(folder.path, None)
        return quiet

    def _forget_above(self, path: str) -> None:
        """Something below `path` is settling: no folder above it may be skipped by its etag."""
        while True:
            self._memo.pop(path, None)
            if path in ("/", normalize(self.settings.watch_root)):
                return
            path = parent(path)

    async def _sweep_one(self, report: PollReport) -> None:
        """The safety net: list one known folder, in turn, as if its etag had moved."""
        if not self._sweep:
            # Inbox folders first: a change missed there is a photo late, elsewhere a new inbox.
            known = sorted(self._memo, key=lambda p: (not self._in_inbox(p), p))
            self._sweep.extend(known)
        while self._sweep:
            path = self._sweep.popleft()
            if path in self._memo:
                entry = Entry(path=path, is_dir=True, etag=self._memo[path])
                found: set[str] = set()
                in_inbox = self._in_inbox(path)
                if not await self._visit(
                    entry, report, found, in_inbox=in_inbox, force=False, force_self=True
                ):
                    self._forget_above(path)
                self.inboxes = sorted({*self.inboxes, *found})
                return

    def _in_inbox(self, path: str) -> bool:
        return find_inbox(path, self.settings.inbox_name, self.settings.watch_root) is not None

    # -- one file --------------------------------------------------------------------------
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
        """A result, or a note of a permanent failure, newer than the original: nothing to redo.

        The output folder is listed once per poll rather than stat-ing two names per file:
        a first poll over 10,000 files would otherwise cost 20,000 requests. A note that
        says its failure was temporary never counts: the file is tried again.
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
        result = children.get(nfc(name(placement.output)))
        if result is not None and not result.is_dir and result.mtime >= entry.mtime:
            return True
        note = children.get(nfc(name(placement.failed_note)))
        if note is None or note.is_dir or note.mtime < entry.mtime:
            return False
        return not note_is_temporary(await self._read_note(note.path))

    async def _read_note(self, path: str) -> str:
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in self.storage.iter_bytes(path):
                chunks.append(chunk)
                size += len(chunk)
                if size >= NOTE_READ_LIMIT:
                    break
        except NotFound:
            return ""
        return b"".join(chunks)[:NOTE_READ_LIMIT].decode("utf-8", errors="replace")
