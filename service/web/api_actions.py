"""The JSON API's write side for jobs: approve, reject, re-run, bulk retry, pause and resume.

Every route here is a POST behind the session and CSRF checks of `service.web.guard`.
A decision is remembered twice: on the job record (for the dashboard) and in the watcher's
ledger and decisions hash, so a rejected result is never redone by the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.constants import DECISIONS_KEY
from service.errors import Conflict, InvalidEdit, InvalidRequest
from service.pipeline import registry
from service.pipeline.registry import OpContext
from service.queue import JobRecord, JobRequest
from service.runtime.services import Services
from service.watch.rules import place
from service.web.api_jobs import get_job_or_404, job_json, services_of

MAX_EDITS = 20
MAX_PROMPT = 4000


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object ({} when empty)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    return data


def check_edits(edits: Any) -> list[dict[str, Any]]:
    """Hand edits: known manual ops with parameters they accept (tried on a tiny image)."""
    if edits is None:
        return []
    if not isinstance(edits, list) or len(edits) > MAX_EDITS:
        raise InvalidRequest(f"edits must be a list of at most {MAX_EDITS} operations")
    manual = {op.name for op in registry.all_ops() if op.manual}
    tiny = Image.new("RGB", (16, 16))
    out = []
    for i, edit in enumerate(edits):
        if not isinstance(edit, dict) or edit.get("op") not in manual:
            raise InvalidRequest(f"edits[{i}]: op must be one of {', '.join(sorted(manual))}")
        params = edit.get("params") or {}
        if not isinstance(params, dict):
            raise InvalidRequest(f"edits[{i}].params must be an object")
        try:
            registry.get(edit["op"]).func(tiny, OpContext(original_size=(16, 16)), **params)
        except (InvalidEdit, TypeError) as exc:
            raise InvalidEdit(f"edits[{i}]: {exc}") from None
        out.append({"op": edit["op"], "params": params})
    return out


async def _remember(services: Services, record: JobRecord, decision: str) -> None:
    """Tell the watcher this version of the file is settled for good."""
    await services.redis.hset(
        DECISIONS_KEY,
        record.source,
        json.dumps(
            {"decision": decision, "version": record.version, "job": record.id, "at": time.time()}
        ),
    )
    await services.ledger.mark_taken(record.identity or record.source, record.version)


async def approve(request: Request) -> Response:
    """Keep the result: the job leaves the review list."""
    services = services_of(request)
    record = await get_job_or_404(request)
    if record.status != "done":
        raise Conflict("only a finished job can be approved")
    record = await services.store.update(record.id, decision="approved") or record
    await _remember(services, record, "approved")
    return JSONResponse(job_json(record, services))


async def reject(request: Request) -> Response:
    """Delete the result (only if it is still this job's), keep the original, remember it."""
    services = services_of(request)
    record = await get_job_or_404(request)
    if record.status != "done":
        raise Conflict("only a finished job can be rejected")
    entry = await services.storage.stat(record.output)
    deleted = False
    if entry is not None and not entry.is_dir and record.result_etag in (None, entry.etag):
        await services.storage.delete(record.output)
        deleted = True
    record = (
        await services.store.update(
            record.id,
            decision="rejected",
            note="result deleted" if deleted else "result left alone: a newer run replaced it",
        )
        or record
    )
    await _remember(services, record, "rejected")
    return JSONResponse({**job_json(record, services), "deleted": deleted})


async def rerun(request: Request) -> Response:
    """Queue the same original again with another chain, prompt, parameters, fidelity or edits.

    Body: {"chain"?, "prompt"?, "params"?: {...}, "fidelity"?, "edits"?: [{"op", "params"}]}.
    The new job is a child of this one; asking twice for the same thing re-runs that child.
    """
    services = services_of(request)
    record = await get_job_or_404(request)
    body = await read_json(request)
    chain_name = body.get("chain") or record.chain
    if chain_name not in services.catalog.chains:
        raise InvalidRequest(f"unknown chain {chain_name!r}")
    chain = services.catalog.chains[chain_name]
    missing = services.catalog.missing_for(
        chain, has_token=services.settings.hf_token_value is not None
    )
    if missing:
        raise Conflict(f"chain {chain_name} cannot run now: " + "; ".join(missing))
    prompt = body.get("prompt") or None
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > MAX_PROMPT):
        raise InvalidRequest(f"prompt must be text of at most {MAX_PROMPT} characters")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise InvalidRequest("params must be an object")
    fidelity = body.get("fidelity") or None
    if fidelity is not None and fidelity not in chain.fidelity:
        raise InvalidRequest(f"chain {chain_name} has no fidelity {fidelity!r}")
    edits = await asyncio.to_thread(check_edits, body.get("edits"))
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
        default_chain=chain_name,
        output_format={chain_name: chain.output_format},
    )
    output = placement.output if placement else record.output
    overrides = [edits, prompt, params, fidelity]
    variant = (
        ""
        if overrides == [[], None, {}, None]
        else hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:16]
    )
    job = JobRequest(
        source=record.source,
        output=output,
        chain=chain_name,
        identity=entry.identity,
        version=entry.version,
        origin="rerun",
        variant=variant,
        edits=edits,
        prompt=prompt,
        params=params,
        fidelity=fidelity,
        parent=record.id,
    )
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


async def retry_failed(request: Request) -> Response:
    """Bulk retry: body {"ids": [...]} or, without ids, every failed job."""
    services = services_of(request)
    body = await read_json(request)
    ids = body.get("ids")
    if ids is None:
        ids = await services.store.ids_with_status("failed")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidRequest("ids must be a list of job ids")
    retried = [i for i in ids if await services.queue.requeue(i)]
    return JSONResponse({"retried": retried, "count": len(retried)})


async def queue_state(request: Request) -> Response:
    """Whether the queue is paused and how many jobs wait."""
    services = services_of(request)
    return JSONResponse(
        {"paused": await services.queue.is_paused(), "depth": await services.queue.depth()}
    )


async def set_queue(request: Request) -> Response:
    """Pause or resume: body {"paused": true|false}; running jobs finish either way."""
    services = services_of(request)
    body = await read_json(request)
    if not isinstance(body.get("paused"), bool):
        raise InvalidRequest('body must be {"paused": true} or {"paused": false}')
    await services.queue.set_paused(body["paused"])
    return await queue_state(request)


routes = [
    Route("/api/jobs/retry", retry_failed, methods=["POST"]),
    Route("/api/jobs/{job_id:str}/approve", approve, methods=["POST"]),
    Route("/api/jobs/{job_id:str}/reject", reject, methods=["POST"]),
    Route("/api/jobs/{job_id:str}/rerun", rerun, methods=["POST"]),
    Route("/api/queue", queue_state, methods=["GET"]),
    Route("/api/queue", set_queue, methods=["POST"]),
]
