"""Server-rendered pages: each is a small shell (Jinja2, autoescaped) that the dashboard's own
JavaScript fills from the JSON API, so data reaches the DOM through one path (textContent)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.web.api_chains import catalog_json
from service.web.api_jobs import job_json, services_of
from service.web.auth import current_user
from service.web.csrf import csrf_token
from service.web.templating import templates


async def _context(request: Request, page: str, **extra: Any) -> dict[str, Any]:
    return {
        "page": page,
        "csrf_token": csrf_token(request),
        "user": await current_user(request),
        "auth_mode": request.app.state.auth.mode,
        **extra,
    }


async def jobs_page(request: Request) -> Response:
    """The jobs list: filters, search, live progress, bulk retry, pause/resume."""
    return templates.TemplateResponse(request, "jobs.html", await _context(request, "jobs"))


async def review_page(request: Request) -> Response:
    """One job: before/after, steps, timeline, decisions, hand edits and re-run."""
    services = services_of(request)
    record = await services.store.get(request.path_params["job_id"])
    if record is None:
        return templates.TemplateResponse(
            request, "missing.html", await _context(request, "jobs"), status_code=404
        )
    return templates.TemplateResponse(
        request,
        "review.html",
        await _context(
            request, "jobs", job=job_json(record, services), catalog=catalog_json(services)
        ),
    )


async def files_page(request: Request) -> Response:
    """Inboxes and their restored folders: browse, pick, upload, download."""
    return templates.TemplateResponse(request, "files.html", await _context(request, "files"))


async def chains_page(request: Request) -> Response:
    """The catalog: which chains can run now and what each step does."""
    return templates.TemplateResponse(
        request,
        "chains.html",
        await _context(request, "chains", catalog=catalog_json(services_of(request))),
    )


routes = [
    Route("/", jobs_page, name="jobs_page"),
    Route("/jobs/{job_id:str}", review_page, name="review_page"),
    Route("/files", files_page, name="files_page"),
    Route("/chains", chains_page, name="chains_page"),
]
