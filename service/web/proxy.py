"""Forwarded headers believed only from TRUSTED_PROXIES: the one place that decides.

A reverse proxy tells who the client is (`X-Forwarded-For`), which scheme it spoke
(`X-Forwarded-Proto`), which host it was asked for (`X-Forwarded-Host`) and, with forward
auth, who signed in (`AUTH_HEADER`). From any other peer these headers are forgeries: this
middleware, the outermost, removes them before anything reads them, so sign-in by header,
the Origin check, `Secure` cookies, HSTS and the sign-in throttle all see the same truth.
uvicorn's own proxy handling is off (`service.commands.run`): it would replace the peer's
address before we could look at it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-real-ip",
    }
)


def is_trusted(address: str | None, networks: Sequence[Network]) -> bool:
    """Whether `address` (an IP, or a test client's name) lies in one of `networks`."""
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _last(value: bytes) -> str:
    return value.decode("latin-1").split(",")[-1].strip()


class TrustedProxyMiddleware:
    """Drop forwarded and auth headers from untrusted peers; apply them from trusted ones."""

    def __init__(
        self, app: ASGIApp, networks: Sequence[Network], auth_header: str | None = None
    ) -> None:
        self.app = app
        self.networks = tuple(networks)
        self.strip = FORWARDED | ({auth_header.lower().encode("latin-1")} if auth_header else set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        if not is_trusted(peer[0] if peer else None, self.networks):
            scope = {**scope, "headers": [h for h in scope["headers"] if h[0] not in self.strip]}
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        scope = dict(scope)
        proto = headers.get(b"x-forwarded-proto")
        if proto and _last(proto).lower() in ("http", "https"):
            secure = _last(proto).lower() == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = "https" if secure else "http"
        client = self._client(headers.get(b"x-forwarded-for"))
        if client is not None:
            scope["client"] = (client, 0)
        await self.app(scope, receive, send)

    def _client(self, value: bytes | None) -> str | None:
        """The nearest address that is not one of our proxies (right to left)."""
        if not value:
            return None
        hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            if not is_trusted(hop, self.networks):
                return hop
        return hops[0] if hops else None
