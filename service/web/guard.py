"""The middleware in front of every route: sign-in first, then CSRF on state-changing requests.

Runs inside Starlette's SessionMiddleware, so `scope["session"]` is the signed cookie's
content, and inside `service.web.headers`, so its own refusals carry the security headers.
API callers get JSON errors (401 not signed in, 403 CSRF/origin); browsers asking for a page
are sent to the login form.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.web.auth import current_user, is_public, login_redirect
from service.web.csrf import (
    CSRF_HEADER,
    FORM_PATHS,
    SAFE_METHODS,
    csrf_token,
    origin_allowed,
    token_matches,
)


def _refuse(status: int, message: str) -> Response:
    return JSONResponse(
        {"error": message}, status_code=status, headers={"cache-control": "no-store"}
    )


class GuardMiddleware:
    """Refuse what a signed-in user with a valid CSRF token would not send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(HTTPConnection(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refusal(conn: HTTPConnection) -> Response | None:
        """The answer that stops this request here, or None to let it through."""
        path, method = conn.scope["path"], conn.scope["method"]
        if not is_public(path) and await current_user(conn) is None:
            if path.startswith("/api/") or method not in SAFE_METHODS:
                return _refuse(401, "sign in first")
            return login_redirect(conn)
        if (method not in SAFE_METHODS and not is_public(path)) or path in FORM_PATHS:
            if method not in SAFE_METHODS and not origin_allowed(conn):
                return _refuse(403, "cross-origin request refused")
            # The two plain forms check their own field; everything else the header.
            if path not in FORM_PATHS and not token_matches(conn, conn.headers.get(CSRF_HEADER)):
                return _refuse(403, "CSRF token missing or wrong")
        if method in SAFE_METHODS and not path.startswith(("/static/", "/api/")):
            csrf_token(conn)  # pages need a token to embed; creating it sets the cookie
        return None
