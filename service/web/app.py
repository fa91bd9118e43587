"""The Starlette application: dashboard, JSON API, webhooks, health and metrics.

Shared clients live in the lifespan (`app.state.services`), built here unless the caller
(`photo-restore up`) hands in the ones it already has.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from service.config.settings import Settings
from service.jobs.services import Services
from service.web import api, health, pages, webhooks
from service.web.templating import static_dir


def create_app(settings: Settings, *, services: Services | None = None,
               redis_url: str | None = None) -> Starlette:
    """Build the app; either `services` (shared) or `redis_url` (the app opens its own)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = services is None
        if services is not None:
            svc = services
        else:
            if redis_url is None:
                raise RuntimeError("create_app needs services or redis_url")
            svc = await Services.open(settings, redis_url)
        app.state.services = svc
        app.state.settings = settings
        try:
            yield
        finally:
            if owned:
                await svc.aclose()

    routes = [
        Route("/", pages.jobs_page, name="jobs_page"),
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", health.metrics),
        *api.routes,
        *webhooks.routes,
        Mount("/static", app=StaticFiles(directory=static_dir()), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
