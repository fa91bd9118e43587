"""The Starlette application: dashboard, JSON API, webhooks, health and metrics.

Shared clients live in the lifespan (`app.state.services`), built here unless the caller
(`photo-restore up`) hands in the ones it already has. Requests pass, outermost first:
`TrustedProxyMiddleware` (forwarded headers and AUTH_HEADER believed from TRUSTED_PROXIES
only), `SecurityHeadersMiddleware`, the session cookie, `GuardMiddleware` (sign-in and CSRF),
`BodyLimitMiddleware` (no body read past its route's limit), then the routes.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
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
    RequestTooLarge,
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
from service.web.headers import SecurityHeadersMiddleware
from service.web.limits import BodyLimitMiddleware, body_limit
from service.web.proxy import TrustedProxyMiddleware
from service.web.sessions import CookieSessions
from service.web.templating import static_dir

# Most specific first: the first matching class decides the status. A ConfigError that reaches
# a request is the server's own misconfiguration, never the caller's mistake.
ERROR_STATUS: list[tuple[type[Exception], int]] = [
    (OutsideInboxes, 403),
    (UnsafePath, 400),
    (NotFound, 404),
    (InvalidImage, 422),
    (RequestTooLarge, 413),
    (InvalidRequest, 400),
    (InvalidEdit, 400),
    (Conflict, 409),
    (FileExistsError, 409),
    (ConfigError, 500),
    (PhotoRestoreError, 502),
]


def _scrub(message: str, settings: Settings | None) -> str:
    """No absolute server path in an answer: DATA_DIR and the temp folder become '…'."""
    roots = [tempfile.gettempdir()]
    if settings is not None:
        roots.insert(0, str(settings.data_dir.resolve()))
    for root in roots:
        message = message.replace(root, "…")
    return message


async def _error(request: Request, exc: Exception) -> Response:
    status = next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))
    message = _scrub(str(exc) or type(exc).__name__, getattr(request.app.state, "settings", None))
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
    middleware = _middleware(settings, auth_config)
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


def _middleware(settings: Settings, auth_config: auth.AuthConfig) -> list[Middleware]:
    """Outermost first; the module docstring says why in this order."""
    return [
        Middleware(
            TrustedProxyMiddleware,
            networks=settings.trusted_networks,
            auth_header=settings.auth_header,
        ),
        Middleware(SecurityHeadersMiddleware),
        Middleware(
            CookieSessions,
            secret_key=auth_config.secret,
            session_cookie=auth.SESSION_COOKIE,
            max_age=auth.SESSION_MAX_AGE,
            same_site="lax",
        ),
        Middleware(GuardMiddleware),
        Middleware(
            BodyLimitMiddleware, limit_for=lambda path: body_limit(path, settings.max_file_mb)
        ),
    ]
