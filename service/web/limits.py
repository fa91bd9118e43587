"""One bounded body reader in front of every route: no request body is read past its limit.

Each route family has a limit (`body_limit`). A request that announces more (Content-Length)
is answered 413 before a byte of its body is read; one sent without a length (chunked) is
counted as it arrives and stopped with `RequestTooLarge` (413) at the chunk that passes the
limit, so a 1.5 GB chunked upload costs at most the limit, never the whole body. Routes keep
calling `request.body()` or the upload reader; the bound sits under them, in `receive`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import RequestTooLarge

KIB = 1024
MIB = 1024 * KIB
WEBHOOK_BODY = 256 * KIB  # an event is a few hundred bytes
API_BODY = 1 * MIB  # the largest JSON body (200 paths, edits, a prompt) is far below
FORM_BODY = 64 * KIB  # the sign-in and sign-out forms
UPLOAD_PATH = "/api/files/upload"


def body_limit(path: str, max_file_mb: int) -> int:
    """The most bytes a request to `path` may carry."""
    if path == UPLOAD_PATH:
        return max_file_mb * MIB * 4  # a few scans at MAX_FILE_MB each, and the form around them
    if path.startswith("/webhooks/"):
        return WEBHOOK_BODY
    if path.startswith("/api/"):
        return API_BODY
    return FORM_BODY


def _too_large(limit: int) -> str:
    return f"the request body is over the limit of {limit // KIB} KiB for this route"


class BodyLimitMiddleware:
    """Refuse bodies over `limit_for(path)`: at once when announced, mid-stream otherwise."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = JSONResponse({"error": _too_large(limit)}, status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise RequestTooLarge(_too_large(limit))
            return message

        await self.app(scope, bounded, send)
