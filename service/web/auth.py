"""Who may use the dashboard: a password, a trusted forward-auth header, or nobody but this machine.

Three modes, chosen from the settings at start-up:

* ``password`` — ``DASHBOARD_PASSWORD`` is set: a login form; success stores a fingerprint of
  the password in the signed session cookie (so changing the password signs everybody out).
* ``header`` — ``AUTH_HEADER`` is set: an ingress (oauth2-proxy, Authelia…) authenticates and
  passes the user's name in that header; a request without it is refused.
* ``open`` — neither: the server listens on loopback only (see `service.commands.run`), so
  whoever reaches it is on this machine.

The session cookie itself is Starlette's `SessionMiddleware` (itsdangerous-signed, HttpOnly,
SameSite=Lax); CSRF checks live in `service.web.csrf`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from service.config.settings import Settings
from service.web.csrf import CSRF_FIELD, csrf_token, rotate_csrf
from service.web.templating import templates

SESSION_COOKIE = "photo_restore_session"
SESSION_MAX_AGE = 14 * 24 * 3600
# Paths reachable without signing in: probes, webhooks (they carry their own secret), the login
# form itself and the static files it needs.
PUBLIC_PREFIXES = ("/healthz", "/readyz", "/metrics", "/webhooks/", "/static/", "/login")
# A failed password costs the caller this long: a cheap brake on guessing.
FAILED_LOGIN_DELAY = 0.25


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


def current_user(request: Request) -> str | None:
    """The signed-in user's name, or None."""
    config: AuthConfig = request.app.state.auth
    if config.mode == "open":
        return "local"
    if config.mode == "header":
        value = request.headers.get(config.header or "", "").strip()
        return value or None
    session = request.scope.get("session") or {}
    if hmac.compare_digest(str(session.get("auth", "")), config.fingerprint()):
        return "admin"
    return None


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login would be a phishing aid."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_redirect(request: Request) -> Response:
    """Send a browser to the login form, remembering where it was going."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def login_page(request: Request) -> Response:
    """The sign-in form (only meaningful with DASHBOARD_PASSWORD)."""
    config: AuthConfig = request.app.state.auth
    if config.mode != "password" or current_user(request):
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


async def login_submit(request: Request) -> Response:
    """Check the form's CSRF token and password; on success start a fresh session."""
    config: AuthConfig = request.app.state.auth
    if config.mode != "password":
        return RedirectResponse("/", status_code=303)
    form = await request.form()
    target = _safe_next(str(form.get("next") or "/"))
    given_csrf = str(form.get(CSRF_FIELD) or "")
    if not hmac.compare_digest(given_csrf.encode(), csrf_token(request).encode()):
        return Response(
            "CSRF token missing or wrong; reload the login page.",
            status_code=403,
            media_type="text/plain",
        )
    if not config.check_password(str(form.get("password") or "")):
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return templates.TemplateResponse(
            request,
            "login.html",
            {"csrf_token": csrf_token(request), "next": target, "error": "Wrong password."},
            status_code=401,
            headers={"cache-control": "no-store"},
        )
    request.session.clear()
    request.session["auth"] = config.fingerprint()
    rotate_csrf(request)  # a token seen before login must not outlive it
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    """End the session (a POST with the CSRF token, checked by the middleware)."""
    request.session.clear()
    rotate_csrf(request)
    return RedirectResponse(
        "/login" if request.app.state.auth.mode == "password" else "/", status_code=303
    )


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
