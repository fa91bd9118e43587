"""Webhook routes: a valid event makes the watcher look at that one folder now.

Authentication comes first (401 and nothing enqueued without the right secret); a path
outside every inbox is accepted with 202 and ignored, so senders need not know our layout.
Events only *trigger* a look: the watcher's settle and dedupe rules still decide.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.constants import WATCH_TRIGGER_KEY
from service.errors import UnsafePath, WebhookRejected
from service.storage.paths import parent
from service.watch.rules import find_inbox
from service.watch.webhooks import (
    FileEvent,
    parse_generic,
    parse_nextcloud,
    secret_ok,
)

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # webhook bodies are small; refuse floods before parsing


def _handler(parse: Callable[[Any], list[FileEvent]]) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        settings = request.app.state.services.settings
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        if not secret_ok(request.headers, secret):
            return JSONResponse({"error": "missing or wrong webhook secret"}, status_code=401)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            events = parse(json.loads(body or b"null"))
        except (json.JSONDecodeError, WebhookRejected) as exc:
            return JSONResponse({"error": f"not a webhook we understand: {exc}"}, status_code=400)
        except UnsafePath as exc:
            return JSONResponse({"status": "ignored", "reason": str(exc)}, status_code=202)
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


routes = [
    Route("/webhooks/nextcloud", _handler(parse_nextcloud), methods=["POST"]),
    Route("/webhooks/files", _handler(parse_generic), methods=["POST"]),
]
