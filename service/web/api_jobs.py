"""The JSON API's read side for jobs: the list, one job with its timeline, its images and its
clip (streamed with Range support, see `service.web.clips`)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.errors import NotFound
from service.jobs.previews import MASK_SLOT, load_preview
from service.queue import STATUSES, JobRecord
from service.runtime.services import Services
from service.web import clips, images

MAX_LIMIT = 200
FILTERS = ("all", "review", *STATUSES)


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value))) if value is not None else default
    except ValueError:
        return default


class FastJSONResponse(JSONResponse):
    """orjson instead of json: a list page of 50 rows is the dashboard's hottest path."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def services_of(request: Request) -> Services:
    """The process's shared clients."""
    services: Services = request.app.state.services
    return services


# What a row of the list shows; the full record (steps, edits, params) is one click away.
LIST_FIELDS = (
    "id",
    "source",
    "output",
    "chain",
    "status",
    "origin",
    "created",
    "updated",
    "started",
    "finished",
    "attempts",
    "error",
    "note",
    "decision",
    "parent",
    "review",
    "clip",
)


def job_json(record: JobRecord, services: Services, *, brief: bool = False) -> dict[str, Any]:
    """A record as the dashboard wants it: the stored fields plus what the UI derives.

    A shallow copy, not `dataclasses.asdict`: asdict deep-copies every step and was most of
    the time of a list page (see bench/bench_dashboard.py).
    """
    fields = vars(record)
    data = {k: fields[k] for k in LIST_FIELDS} if brief else dict(fields)
    data["name"] = record.name
    data["to_review"] = record.to_review
    chain = services.catalog.chains.get(record.chain)
    data["chain_title"] = chain.title if chain else record.chain
    done = sum(1 for s in record.steps if s.get("status") not in ("pending", "running"))
    data["progress"] = {"done": done, "total": len(record.steps)}
    return data


async def get_job_or_404(request: Request) -> JobRecord:
    """The job named in the path, or NotFound (→ 404)."""
    record = await services_of(request).store.get(request.path_params["job_id"])
    if record is None:
        raise NotFound("no such job")
    return record


async def list_jobs(request: Request) -> Response:
    """Jobs, newest first.

    Query: status = all|queued|running|done|failed|review, q = part of the file path,
    offset, limit (≤ 200). Answers the page, the total matching, counts per status and
    whether the queue is paused.
    """
    services = services_of(request)
    status = request.query_params.get("status") or "all"
    if status not in FILTERS:
        return JSONResponse(
            {"error": f"unknown status {status!r}; one of {', '.join(FILTERS)}"}, status_code=400
        )
    offset = _int(request.query_params.get("offset"), 0, 0, 10**9)
    limit = _int(request.query_params.get("limit"), 50, 1, MAX_LIMIT)
    query = (request.query_params.get("q") or "").strip() or None
    jobs, total = await services.store.list(status=status, query=query, offset=offset, limit=limit)
    return FastJSONResponse(
        {
            "jobs": [job_json(j, services, brief=True) for j in jobs],
            "total": total,
            "offset": offset,
            "limit": limit,
            "counts": await services.store.counts(),
            "paused": await services.queue.is_paused(),
        }
    )


async def get_job(request: Request) -> Response:
    """One job with its timeline: steps (status, provider, model, duration, retries, note),
    attempts, error, timings, edits and overrides, and its re-runs' parent."""
    record = await get_job_or_404(request)
    return JSONResponse(job_json(record, services_of(request)))


async def job_image(request: Request) -> Response:
    """A preview JPEG: slot `source`, `result`, `aligned` (the original in the result's frame,
    for the slider) or a step index (the step's intermediate image); or slot `mask`, a PNG:
    the damage detector's mask at the size of `aligned` (255 = damaged), when the job's
    record says `damage_mask`.

    Source and result fall back to a thumbnail made from the stored file when the preview
    expired or the job has not produced one yet; `aligned` and `mask` have no such fallback
    (404).
    """
    record = await get_job_or_404(request)
    slot = request.path_params["slot"]
    if slot not in ("source", "result", "aligned", MASK_SLOT) and not slot.isdigit():
        raise NotFound("no such image")
    services = services_of(request)
    data = await load_preview(services.previews, record.id, slot)
    if slot == MASK_SLOT:
        if data is None:
            raise NotFound("no damage mask for this job")
        return images.png(data)
    if data is None and slot in ("source", "result"):
        if slot == "result" and record.status != "done":
            raise NotFound("no result yet")
        path = record.source if slot == "source" else record.output
        data = await images.thumbnail(services, path, edge=1280)
    if data is None:
        raise NotFound("no such image")
    return images.jpeg(data)


async def job_file(request: Request) -> Response:
    """The full-size original or result (`?download=1` for an attachment, else viewable)."""
    record = await get_job_or_404(request)
    which = request.path_params["which"]
    if which not in ("original", "result"):
        raise NotFound("no such file")
    path = record.source if which == "original" else record.output
    if which == "result" and (record.status != "done" or record.decision == "rejected"):
        raise NotFound("no result for this job")
    download = request.query_params.get("download") == "1"
    return await images.file_response(services_of(request), path, download=download, viewable=True)


async def job_clip(request: Request) -> Response:
    """The clip a job wrote beside its photo, as video/mp4 with Range support (`?download=1`
    for an attachment)."""
    record = await get_job_or_404(request)
    download = request.query_params.get("download") == "1"
    return await clips.clip_response(services_of(request), record, download=download)


routes = [
    Route("/api/jobs", list_jobs, methods=["GET"]),
    Route("/api/jobs/{job_id:str}", get_job, methods=["GET"]),
    Route("/api/jobs/{job_id:str}/image/{slot:str}", job_image, methods=["GET"]),
    Route("/api/jobs/{job_id:str}/file/{which:str}", job_file, methods=["GET"]),
    Route("/api/jobs/{job_id:str}/clip", job_clip, methods=["GET"]),
]
