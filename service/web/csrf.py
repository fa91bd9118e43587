"""CSRF protection: a per-session secret token that every state-changing request must echo.

The token lives in the signed session cookie (so it needs no server-side store and works on
any replica). Pages carry it in ``<meta name="csrf-token">``; the dashboard's JavaScript sends
it back in the ``X-CSRF-Token`` header, and the two plain HTML forms (login, logout) in a
``csrf_token`` field. A cross-site page can make the browser send the cookie, but cannot read
the token, so it cannot forge either. SameSite=Lax and the Origin check below are extra layers.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import HTTPConnection

CSRF_HEADER = "x-csrf-token"
CSRF_HEADER_NAME = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Plain HTML forms whose handlers check the form field themselves.
FORM_PATHS = frozenset({"/login", "/logout"})


def csrf_token(conn: HTTPConnection) -> str:
    """This session's token, created on first use."""
    session = conn.scope.setdefault("session", {})
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def rotate_csrf(conn: HTTPConnection) -> str:
    """A fresh token (after login or logout)."""
    token = secrets.token_urlsafe(32)
    conn.scope.setdefault("session", {})["csrf"] = token
    return token


def token_matches(conn: HTTPConnection, given: str | None) -> bool:
    """Constant-time check of a token against the session's (no session: no match)."""
    session = conn.scope.get("session") or {}
    expected = session.get("csrf")
    if not given or not isinstance(expected, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def origin_allowed(conn: HTTPConnection) -> bool:
    """A browser's Origin, when sent, must be this very site (host and port). X-Forwarded-Host
    reaches here only from TRUSTED_PROXIES: `service.web.proxy` drops it from anyone else."""
    origin = conn.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = conn.headers.get("x-forwarded-host") or conn.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host
