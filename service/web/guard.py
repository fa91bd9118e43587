"""The middleware in front of every route: sign-in first, then CSRF on state-changing requests.

Runs inside Starlette's SessionMiddleware, so `scope["session"]` is the signed cookie's
content. API callers get JSON errors (401 not signed in, 403 CSRF/origin); browsers asking for
a page are sent to the login form.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        conn = HTTPConnection(scope)
        path = scope["path"]
        method = scope["method"]
        if not is_public(path):
            if current_user(conn) is None:  # type: ignore[arg-type]
                if path.startswith("/api/") or method not in SAFE_METHODS:
                    await _refuse(401, "sign in first")(scope, receive, send)
                else:
                    await login_redirect(conn)(scope, receive, send)  # type: ignore[arg-type]
                return
            if method not in SAFE_METHODS and path not in FORM_PATHS:
                if not origin_allowed(conn):
                    await _refuse(403, "cross-origin request refused")(scope, receive, send)
                    return
                if not token_matches(conn, conn.headers.get(CSRF_HEADER)):
                    await _refuse(403, "CSRF token missing or wrong")(scope, receive, send)
                    return
        if method in SAFE_METHODS and not path.startswith(("/static/", "/api/")):
            csrf_token(conn)  # pages need a token to embed; creating it sets the cookie
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                names = {h[0].lower() for h in headers}
                for name, value in SECURITY_HEADERS:
                    if name not in names:
                        headers.append((name, value))
            await send(message)

        return wrapped


# Our pages use only our own scripts and styles; nothing may frame them.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; "
        b"style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
