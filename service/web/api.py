"""The JSON API (read side for now): jobs list and one job."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.jobs.records import STATUSES

MAX_LIMIT = 200


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value))) if value is not None else default
    except ValueError:
        return default


async def list_jobs(request: Request) -> Response:
    """Jobs, newest first: ?status=queued|running|done|failed|review&q=name&offset=&limit=."""
    store = request.app.state.services.store
    status = request.query_params.get("status") or None
    if status not in (None, "all", "review", *STATUSES):
        return JSONResponse({"error": f"unknown status {status!r}"}, status_code=400)
    offset = _int(request.query_params.get("offset"), 0, 0, 10**9)
    limit = _int(request.query_params.get("limit"), 50, 1, MAX_LIMIT)
    jobs, total = await store.list(status=status, query=request.query_params.get("q"),
                                   offset=offset, limit=limit)
    return JSONResponse({"jobs": [j.to_dict() for j in jobs], "total": total,
                         "offset": offset, "limit": limit, "counts": await store.counts()})


async def get_job(request: Request) -> Response:
    """One job with its timeline."""
    record = await request.app.state.services.store.get(request.path_params["job_id"])
    if record is None:
        return JSONResponse({"error": "no such job"}, status_code=404)
    return JSONResponse(record.to_dict())


routes = [
    Route("/api/jobs", list_jobs, methods=["GET"]),
    Route("/api/jobs/{job_id:str}", get_job, methods=["GET"]),
]
