"""The Starlette application: dashboard, JSON API, webhooks, health and metrics.

Shared clients live in the lifespan (`app.state.services`), built here unless the caller
(`photo-restore up`) hands in the ones it already has. Requests pass the session cookie
middleware, then `GuardMiddleware` (sign-in and CSRF), then the routes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from service.config.settings import Settings
from service.errors import (
    ConfigError,
    Conflict,
    InvalidEdit,
    InvalidImage,
    InvalidRequest,
    NotFound,
    OutsideInboxes,
    PhotoRestoreError,
    UnsafePath,
)
from service.runtime.services import Services
from service.web import (
    api_actions,
    api_chains,
    api_files,
    api_jobs,
    auth,
    events,
    health,
    openapi,
    pages,
    webhooks,
)
from service.web.access import Inboxes
from service.web.guard import GuardMiddleware
from service.web.templating import static_dir

# Most specific first: the first matching class decides the status. A ConfigError that reaches
# a request is the server's own misconfiguration, never the caller's mistake.
ERROR_STATUS: list[tuple[type[Exception], int]] = [
    (OutsideInboxes, 403),
    (UnsafePath, 400),
    (NotFound, 404),
    (InvalidImage, 422),
    (InvalidRequest, 400),
    (InvalidEdit, 400),
    (Conflict, 409),
    (FileExistsError, 409),
    (ConfigError, 500),
    (PhotoRestoreError, 502),
]


async def _error(request: Request, exc: Exception) -> Response:
    status = next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))
    message = str(exc) or type(exc).__name__
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def create_app(
    settings: Settings, *, services: Services | None = None, redis_url: str | None = None
) -> Starlette:
    """Build the app; either `services` (shared) or `redis_url` (the app opens its own)."""
    auth_config = auth.AuthConfig.from_settings(settings)

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
        app.state.inboxes = Inboxes(svc)
        try:
            yield
        finally:
            if owned:
                await svc.aclose()

    routes = [
        *pages.routes,
        *auth.routes,
        Mount("/static", app=StaticFiles(directory=static_dir()), name="static"),
        *health_routes(),
        *openapi.routes,
        *events.routes,
        *api_jobs.routes,
        *api_actions.routes,
        *api_files.routes,
        *api_chains.routes,
        *webhooks.routes,
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=auth_config.secret,
            session_cookie=auth.SESSION_COOKIE,
            max_age=auth.SESSION_MAX_AGE,
            same_site="lax",
        ),
        Middleware(GuardMiddleware),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={cls: _error for cls, _ in ERROR_STATUS},
    )
    app.state.auth = auth_config
    return app


def health_routes() -> list[Route]:
    """Probes and metrics (owned with the operators: keep their paths)."""
    return [
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", health.metrics),
    ]
