"""The queue as the watcher, the dashboard and the CLI see it: what to restore (`JobRequest`),
what is recorded of a job (`JobRecord`), and the `JobQueue` protocol with an in-memory twin.

No arq and no Redis here: producers of work depend on this module only, and `service.jobs`
implements it on arq (`jobs.arq_queue`) with the records in Redis (`jobs.records`). Job ids
are derived from (file identity, content version, chain, variant), so the same file at the
same version is never queued twice for the same chain.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

STATUSES = ("queued", "running", "done", "failed")


@dataclass
class JobRecord:
    """One restoration of one file with one chain (and, for re-runs, one set of overrides)."""

    id: str
    source: str
    output: str
    chain: str
    status: str = "queued"
    identity: str = ""
    version: str = ""
    origin: str = "watcher"  # watcher, webhook, api, upload, rerun
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    error: str | None = None
    note: str | None = None  # e.g. "retrying in 20 s: 503 from fal-ai"
    steps: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    fidelity: str | None = None
    decision: str | None = None
    parent: str | None = None
    cost_usd: float = 0.0
    review: list[str] = field(default_factory=list)  # why a person should look ("step: reason")
    result_etag: str | None = None
    size: tuple[int, int] | None = None
    damage_mask: bool = False  # the run left a damage mask (the `mask` preview, which may expire)
    # Chains ending in a clip: the re-run's choices for it ("model", "prompt", "params"), and
    # where this job wrote the clip (beside `output`, see `formats.clip_name`) and its etag.
    clip_options: dict[str, Any] = field(default_factory=dict)
    clip: str | None = None
    clip_etag: str | None = None

    @property
    def name(self) -> str:
        """The file name, for display and search."""
        return self.source.rsplit("/", 1)[-1]

    @property
    def to_review(self) -> bool:
        """Done and not yet approved or rejected."""
        return self.status == "done" and self.decision is None

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobRecord:
        """Rebuild from stored JSON, ignoring unknown fields from newer versions."""
        data = orjson.loads(raw)
        known = _FIELDS
        data = {k: v for k, v in data.items() if k in known}
        if data.get("size") is not None:
            data["size"] = tuple(data["size"])
        return cls(**data)


_FIELDS = frozenset(JobRecord.__dataclass_fields__)


def job_id_for(identity: str, version: str, chain: str, variant: str = "") -> str:
    """Deterministic id: the same file version and chain always give the same id."""
    text = json.dumps([identity, version, chain, variant], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class JobRequest:
    """What to restore; `variant` distinguishes a re-run with other edits or parameters."""

    source: str
    output: str
    chain: str
    identity: str
    version: str
    origin: str = "watcher"
    variant: str = ""
    edits: list[dict[str, Any]] = field(default_factory=list)
    prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    fidelity: str | None = None
    parent: str | None = None
    clip_options: dict[str, Any] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        """This request's deterministic id."""
        return job_id_for(self.identity, self.version, self.chain, self.variant)

    def record(self) -> JobRecord:
        """A fresh queued record for this request."""
        return JobRecord(
            id=self.job_id,
            source=self.source,
            output=self.output,
            chain=self.chain,
            identity=self.identity,
            version=self.version,
            origin=self.origin,
            edits=list(self.edits),
            prompt=self.prompt,
            params=dict(self.params),
            fidelity=self.fidelity,
            parent=self.parent,
            clip_options=dict(self.clip_options),
        )


class JobQueue(Protocol):
    """What producers of work need."""

    async def submit(self, request: JobRequest) -> JobRecord | None:
        """Queue a job; None when that exact job already exists (nothing is queued twice)."""
        ...

    async def requeue(self, job_id: str) -> bool:
        """Queue an existing (failed) job again under the same id."""
        ...

    async def depth(self) -> int:
        """Jobs waiting."""
        ...

    async def set_paused(self, paused: bool) -> None:
        """Pause or resume taking new jobs (running ones finish)."""
        ...

    async def is_paused(self) -> bool:
        """Whether the queue is paused."""
        ...


class MemoryJobQueue:
    """An in-memory twin for tests of producers: records what was submitted."""

    def __init__(self) -> None:
        self.submitted: list[JobRequest] = []
        self.ids: set[str] = set()
        self.paused = False

    async def submit(self, request: JobRequest) -> JobRecord | None:
        """Remember the request unless its id was seen."""
        if request.job_id in self.ids:
            return None
        record = request.record()
        self.ids.add(request.job_id)
        self.submitted.append(request)
        return record

    async def requeue(self, job_id: str) -> bool:
        """Record the requeue."""
        self.ids.add(job_id)
        return True

    async def depth(self) -> int:
        """Submitted count."""
        return len(self.submitted)

    async def set_paused(self, paused: bool) -> None:
        """Set the flag."""
        self.paused = paused

    async def is_paused(self) -> bool:
        """The flag."""
        return self.paused
