"""The JSON API's write side for jobs: approve, reject, re-run, bulk retry, pause and resume.

Every route here is a POST behind the session and CSRF checks of `service.web.guard`.
A decision is kept on the job record (for the dashboard), and the file's version is marked as
handled in the watcher's ledger, so a rejected result is never redone by the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.config.catalog import Chain
from service.errors import Conflict, InvalidEdit, InvalidRequest
from service.pipeline import registry
from service.pipeline.registry import OpContext
from service.queue import JobRecord, JobRequest
from service.runtime.services import Services
from service.watch.rules import place
from service.web.api_jobs import get_job_or_404, job_json, services_of
from service.web.bodies import Edit, QueueBody, RerunBody, RetryBody, json_body


def check_edits(edits: list[Edit]) -> list[dict[str, Any]]:
    """Hand edits with parameters their operation accepts, tried on a tiny image (blocking)."""
    tiny = Image.new("RGB", (16, 16))
    out = []
    for i, edit in enumerate(edits):
        try:
            registry.get(edit.op).func(tiny, OpContext(original_size=(16, 16)), **edit.params)
        except (InvalidEdit, TypeError) as exc:
            raise InvalidEdit(f"edits[{i}]: {exc}") from None
        out.append({"op": edit.op, "params": edit.params})
    return out


async def _settle(services: Services, record: JobRecord) -> None:
    """Tell the watcher this version of the file is handled for good: a decided result is
    never redone by the next poll (the decision itself is on the job record)."""
    await services.ledger.mark_taken(record.identity or record.source, record.version)


async def approve(request: Request) -> Response:
    """Keep the result: the job leaves the review list."""
    services = services_of(request)
    record = await get_job_or_404(request)
    if record.status != "done":
        raise Conflict("only a finished job can be approved")
    record = await services.store.update(record.id, decision="approved") or record
    await _settle(services, record)
    return JSONResponse(job_json(record, services))


async def _delete_if_ours(services: Services, path: str | None, etag: str | None) -> bool:
    """Delete `path` when it is still the file this job wrote (a newer run's is left alone)."""
    if path is None:
        return False
    entry = await services.storage.stat(path)
    if entry is None or entry.is_dir or etag not in (None, entry.etag):
        return False
    await services.storage.delete(path)
    return True


async def reject(request: Request) -> Response:
    """Delete the result and its clip (only if still this job's), keep the original, remember."""
    services = services_of(request)
    record = await get_job_or_404(request)
    if record.status != "done":
        raise Conflict("only a finished job can be rejected")
    deleted = await _delete_if_ours(services, record.output, record.result_etag)
    if await _delete_if_ours(services, record.clip, record.clip_etag):
        deleted = True
    record = (
        await services.store.update(
            record.id,
            decision="rejected",
            note="result deleted" if deleted else "result left alone: a newer run replaced it",
        )
        or record
    )
    await _settle(services, record)
    return JSONResponse({**job_json(record, services), "deleted": deleted})


def _runnable_chain(services: Services, name: str, body: RerunBody) -> Chain:
    """The chain a re-run asks for, when it exists and can run with the present settings."""
    fidelity = body.fidelity
    chain = services.catalog.chains.get(name)
    if chain is None:
        raise InvalidRequest(f"unknown chain {name!r}")
    missing = services.catalog.missing_for(
        chain, has_token=services.settings.hf_token_value is not None
    )
    if missing:
        raise Conflict(f"chain {name} cannot run now: " + "; ".join(missing))
    if fidelity is not None and fidelity not in chain.fidelity:
        raise InvalidRequest(f"chain {name} has no fidelity {fidelity!r}")
    if body.clip_options() and not chain.makes_clip:
        raise InvalidRequest(f"chain {name} makes no clip: clip_model and clip_prompt do not apply")
    model = services.catalog.models.get(body.clip_model or "")
    if body.clip_model is not None and (model is None or not model.makes_clips):
        known = ", ".join(n for n, m in services.catalog.models.items() if m.makes_clips)
        raise InvalidRequest(f"clip_model must be a clip model: one of {known}")
    return chain


def _variant(edits: list[dict[str, Any]], body: RerunBody) -> str:
    """What tells this re-run from a plain one of the same chain ('' when nothing does)."""
    overrides: list[Any] = [edits, body.prompt, body.params, body.fidelity]
    if body.clip_options():
        overrides.append(body.clip_options())
    if overrides == [[], None, {}, None]:
        return ""
    return hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:16]


async def _rerun_request(
    services: Services, record: JobRecord, chain: Chain, body: RerunBody
) -> JobRequest:
    """The job a re-run queues: the same original, now, with the body's overrides."""
    edits = await asyncio.to_thread(check_edits, body.edits)
    entry = await services.storage.stat(record.source)
    if entry is None:
        raise Conflict("the original is gone from the inbox")
    settings = services.settings
    placement = place(
        record.source,
        inbox_name=settings.inbox_name,
        output_name=settings.output_name,
        watch_root=settings.watch_root,
        chains=(),
        default_chain=chain.name,
        output_format={chain.name: chain.output_format},
    )
    return JobRequest(
        source=record.source,
        output=placement.output if placement else record.output,
        chain=chain.name,
        identity=entry.identity,
        version=entry.version,
        origin="rerun",
        variant=_variant(edits, body),
        edits=edits,
        prompt=body.prompt,
        params=body.params,
        fidelity=body.fidelity,
        parent=record.id,
        clip_options=body.clip_options(),
    )


@json_body(RerunBody)
async def rerun(request: Request, body: RerunBody) -> Response:
    """Queue the same original again with another chain, prompt, parameters, fidelity or edits
    (and, for a chain ending in a clip, another clip model or motion prompt).

    The new job is a child of this one; asking twice for the same thing re-runs that child.
    """
    services = services_of(request)
    record = await get_job_or_404(request)
    chain = _runnable_chain(services, body.chain or record.chain, body)
    job = await _rerun_request(services, record, chain, body)
    created = await services.queue.submit(job)
    if created is None:  # the very same re-run exists: run it again
        existing = await services.store.get(job.job_id)
        if existing is None or existing.status in ("queued", "running"):
            return JSONResponse(job_json(existing or record, services), status_code=200)
        await services.store.update(existing.id, decision=None)
        await services.queue.requeue(existing.id)
        created = await services.store.get(existing.id)
    assert created is not None
    return JSONResponse(job_json(created, services), status_code=201)


@json_body(RetryBody)
async def retry_failed(request: Request, body: RetryBody) -> Response:
    """Bulk retry: the jobs named in `ids` or, without ids, every failed job."""
    services = services_of(request)
    ids = body.ids if body.ids is not None else await services.store.ids_with_status("failed")
    retried = [i for i in ids if await services.queue.requeue(i)]
    return JSONResponse({"retried": retried, "count": len(retried)})


async def queue_state(request: Request) -> Response:
    """Whether the queue is paused and how many jobs wait."""
    services = services_of(request)
    return JSONResponse(
        {"paused": await services.queue.is_paused(), "depth": await services.queue.depth()}
    )


@json_body(QueueBody)
async def set_queue(request: Request, body: QueueBody) -> Response:
    """Pause or resume; running jobs finish either way."""
    await services_of(request).queue.set_paused(body.paused)
    return await queue_state(request)


routes = [
    Route("/api/jobs/retry", retry_failed, methods=["POST"]),
    Route("/api/jobs/{job_id:str}/approve", approve, methods=["POST"]),
    Route("/api/jobs/{job_id:str}/reject", reject, methods=["POST"]),
    Route("/api/jobs/{job_id:str}/rerun", rerun, methods=["POST"]),
    Route("/api/queue", queue_state, methods=["GET"]),
    Route("/api/queue", set_queue, methods=["POST"]),
]
