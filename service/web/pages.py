"""Server-rendered pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from service.web.templating import templates


async def jobs_page(request: Request) -> Response:
    """A plain list of recent jobs."""
    store = request.app.state.services.store
    jobs, total = await store.list(limit=100)
    return templates.TemplateResponse(request, "jobs.html",
                                      {"jobs": jobs, "total": total,
                                       "counts": await store.counts()})
