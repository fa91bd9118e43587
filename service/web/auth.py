"""Who may use the dashboard: a password, a trusted forward-auth header, or nobody but this machine.

Three modes, chosen from the settings at start-up:

* ``password`` — ``DASHBOARD_PASSWORD`` is set: a login form, throttled per client
  (`service.web.throttle`); success starts a server-side session (`service.web.sessions`)
  that sign-out or a changed password ends for every copy of the cookie.
* ``header`` — ``AUTH_HEADER`` is set: an ingress (oauth2-proxy, Authelia…) authenticates and
  passes the user's name in that header; it is believed only from TRUSTED_PROXIES
  (`service.web.proxy` drops it from anyone else), and a request without it is refused.
* ``open`` — neither: the server listens on loopback only (see `service.commands.run`), so
  whoever reaches it is on this machine.

The session cookie itself is Starlette's `SessionMiddleware` (itsdangerous-signed, HttpOnly,
SameSite=Lax, Secure behind https); CSRF checks live in `service.web.csrf`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from service.config.settings import Settings
from service.web import sessions, throttle
from service.web.csrf import CSRF_FIELD, CSRF_HEADER, csrf_token, rotate_csrf
from service.web.templating import templates

SESSION_COOKIE = "photo_restore_session"
SESSION_MAX_AGE = 14 * 24 * 3600
# Paths reachable without signing in: probes, webhooks (they carry their own secret), the login
# form itself and the static files it needs.
PUBLIC_PREFIXES = ("/healthz", "/readyz", "/metrics", "/webhooks/", "/static/", "/login")


@dataclass(frozen=True)
class AuthConfig:
    """The sign-in mode and the secrets derived for it."""

    mode: str  # "password", "header" or "open"
    secret: str
    password: str | None = None
    header: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        """Pick the mode; SESSION_SECRET keeps sessions valid across restarts and replicas."""
        secret = (
            settings.session_secret.get_secret_value()
            if settings.session_secret
            else secrets.token_urlsafe(32)
        )  # per process: a restart signs users out
        password = (
            settings.dashboard_password.get_secret_value() if settings.dashboard_password else None
        )
        if password:
            return cls("password", secret, password=password)
        if settings.auth_header:
            return cls("header", secret, header=settings.auth_header)
        return cls("open", secret)

    def fingerprint(self) -> str:
        """A keyed digest of the password, stored in the session instead of a bare flag."""
        assert self.password is not None
        return hmac.new(self.secret.encode(), self.password.encode(), hashlib.sha256).hexdigest()

    def check_password(self, given: str) -> bool:
        """Constant-time comparison of the typed password."""
        assert self.password is not None
        return hmac.compare_digest(given.encode(), self.password.encode())


def is_public(path: str) -> bool:
    """Whether `path` is served without a signed-in user."""
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PREFIXES)


async def current_user(conn: HTTPConnection) -> str | None:
    """The signed-in user's name, or None. Remembered on the request: asked once per request."""
    if "photo_restore_user" in conn.scope:
        user: str | None = conn.scope["photo_restore_user"]
        return user
    config: AuthConfig = conn.app.state.auth
    user = None
    if config.mode == "open":
        user = "local"
    elif config.mode == "header":
        user = conn.headers.get(config.header or "", "").strip() or None
    else:
        session = conn.scope.get("session") or {}
        redis = conn.app.state.services.redis
        if await sessions.holds(redis, session, config.fingerprint()):
            user = "admin"
    conn.scope["photo_restore_user"] = user
    return user


def client_address(conn: HTTPConnection) -> str:
    """Who is asking, as the trusted proxy (or the socket) tells."""
    return conn.client.host if conn.client else "unknown"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login would be a phishing aid."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_redirect(request: HTTPConnection) -> Response:
    """Send a browser to the login form, remembering where it was going."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def login_page(request: Request) -> Response:
    """The sign-in form (only meaningful with DASHBOARD_PASSWORD)."""
    config: AuthConfig = request.app.state.auth
    if config.mode != "password" or await current_user(request):
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf_token": csrf_token(request),
            "next": _safe_next(request.query_params.get("next")),
            "error": None,
        },
        headers={"cache-control": "no-store"},
    )


def _form_token_ok(request: Request, form: Any) -> bool:
    given = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    return hmac.compare_digest(given.encode(), csrf_token(request).encode())


def _login_form(request: Request, target: str, error: str, status: int, **headers: str) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"csrf_token": csrf_token(request), "next": target, "error": error},
        status_code=status,
        headers={"cache-control": "no-store", **headers},
    )


async def login_submit(request: Request) -> Response:
    """Check the form's CSRF token, the client's throttle and the password; on success start a
    fresh server-side session."""
    config: AuthConfig = request.app.state.auth
    if config.mode != "password":
        return RedirectResponse("/", status_code=303)
    form = await request.form()
    target = _safe_next(str(form.get("next") or "/"))
    if not _form_token_ok(request, form):
        return PlainTextResponse("CSRF token missing or wrong; reload the login page.", 403)
    redis = request.app.state.services.redis
    client = client_address(request)
    wait = await throttle.wait_needed(redis, client)
    if wait:
        message = f"Too many wrong passwords: try again in {max(1, wait // 60)} min."
        return _login_form(request, target, message, 429, **{"retry-after": str(wait)})
    if not config.check_password(str(form.get("password") or "")):
        await throttle.failed(redis, client)
        return _login_form(request, target, "Wrong password.", 401)
    await throttle.succeeded(redis, client)
    await sessions.start(redis, request.session, config.fingerprint(), SESSION_MAX_AGE)
    rotate_csrf(request)  # a token seen before login must not outlive it
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    """End the session on the server too (a POST with the CSRF token in the form or header)."""
    form = await request.form()
    if not _form_token_ok(request, form):
        return PlainTextResponse("CSRF token missing or wrong; reload the page.", 403)
    await sessions.end(request.app.state.services.redis, request.session)
    rotate_csrf(request)
    return RedirectResponse(
        "/login" if request.app.state.auth.mode == "password" else "/", status_code=303
    )


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
