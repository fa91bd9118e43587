"""Server-side sessions: the signed cookie carries a session id, Redis says whether it holds.

A signed cookie alone cannot be taken back: replayed after sign-out it worked for its whole
life. Here sign-in stores `session id → password fingerprint` in Redis (with the cookie's
lifetime); sign-out deletes it, and a changed DASHBOARD_PASSWORD no longer matches the
fingerprint, so either ends every copy of the cookie at once. Redis holds a digest of the id,
never the id itself. The cookie is `Secure` whenever the request came over https (directly,
or as a trusted proxy reports: `service.web.proxy`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from redis.asyncio import Redis
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from service.constants import SESSION_KEY

SESSION_FIELD = "sid"


def _key(sid: str) -> str:
    return SESSION_KEY + hashlib.sha256(sid.encode()).hexdigest()


async def start(redis: Redis, session: dict[str, Any], fingerprint: str, max_age: int) -> None:
    """Begin a new session for `fingerprint` (the cookie's old content is dropped)."""
    session.clear()
    sid = secrets.token_urlsafe(32)
    await redis.set(_key(sid), fingerprint, ex=max_age)
    session[SESSION_FIELD] = sid


async def holds(redis: Redis, session: dict[str, Any], fingerprint: str) -> bool:
    """Whether the session's id is still live on the server, for this password."""
    sid = session.get(SESSION_FIELD)
    if not isinstance(sid, str) or not sid:
        return False
    stored = await redis.get(_key(sid))
    if stored is None:
        return False
    value = stored.decode() if isinstance(stored, bytes) else str(stored)
    return hmac.compare_digest(value.encode(), fingerprint.encode())


async def end(redis: Redis, session: dict[str, Any]) -> None:
    """Revoke the session on the server and empty the cookie."""
    sid = session.get(SESSION_FIELD)
    if isinstance(sid, str) and sid:
        await redis.delete(_key(sid))
    session.clear()


class CookieSessions:
    """Starlette's signed-cookie sessions, with `Secure` set when the request is https."""

    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        self.plain = SessionMiddleware(app, https_only=False, **options)
        self.secure = SessionMiddleware(app, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        secure = scope.get("scheme") in ("https", "wss")
        await (self.secure if secure else self.plain)(scope, receive, send)
