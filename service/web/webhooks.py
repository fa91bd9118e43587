"""Webhook routes: a valid event makes the watcher look at that one folder now.

Authentication comes first (401 and nothing enqueued without the right secret); a path
outside every inbox is accepted with 202 and ignored, so senders need not know our layout.
Events only *trigger* a look: the watcher's settle and dedupe rules still decide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.constants import WATCH_TRIGGER_KEY
from service.errors import InvalidRequest, UnsafePath
from service.storage.paths import parent
from service.watch.rules import find_inbox
from service.watch.webhooks import (
    FileEvent,
    parse_generic,
    parse_nextcloud,
    secret_ok,
)
from service.web.bodies import loads

log = logging.getLogger(__name__)
Parse = Callable[[Any, "str | None"], list[FileEvent]]


def our_user(services: Any) -> str | None:
    """The account whose files we watch (the id the server reported, else OWNCLOUD_USER);
    None for a local DATA_DIR, where any owner's path is taken as ours."""
    if not services.settings.uses_owncloud:
        return None
    info = getattr(services.storage, "server_info", None)
    user = getattr(info, "user_id", None) or services.settings.owncloud_user
    return str(user) if user else None


def _handler(parse: Parse) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        services = request.app.state.services
        settings = services.settings
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        if not secret_ok(request.headers, secret):
            return JSONResponse({"error": "missing or wrong webhook secret"}, status_code=401)
        body = await request.body()  # bounded by service.web.limits
        try:
            events = parse(loads(body) if body.strip() else None, our_user(services))
        except UnsafePath as exc:
            return JSONResponse({"status": "ignored", "reason": str(exc)}, status_code=202)
        except InvalidRequest as exc:
            return JSONResponse({"error": f"not a webhook we understand: {exc}"}, status_code=400)
        folders = sorted(
            {
                parent(event.path)
                for event in events
                if find_inbox(event.path, settings.inbox_name, settings.watch_root) is not None
            }
        )
        if folders:
            await request.app.state.services.redis.rpush(WATCH_TRIGGER_KEY, *folders)
            log.info("webhook: looking at %s", ", ".join(folders))
            return JSONResponse({"status": "accepted", "folders": folders}, status_code=202)
        return JSONResponse({"status": "ignored", "reason": "outside every inbox"}, status_code=202)

    return receive


def _generic(body: Any, user: str | None) -> list[FileEvent]:
    return parse_generic(body)


routes = [
    Route(
        "/webhooks/nextcloud",
        _handler(lambda body, user: parse_nextcloud(body, user=user)),
        methods=["POST"],
    ),
    Route("/webhooks/files", _handler(_generic), methods=["POST"]),
]
