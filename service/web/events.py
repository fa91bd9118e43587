"""Live progress: the Redis pub/sub channel of job changes as server-sent events.

Every `JobStore` write publishes a small JSON message; each open dashboard holds one
subscription and gets one `job` event per message. A comment line every few seconds keeps
proxies from closing an idle stream and lets us notice a browser that went away. When Redis
goes away the stream simply ends (no traceback per open tab); the browser reconnects after
`retry` and gets a 503 until Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from service.constants import JOB_EVENTS_CHANNEL
from service.web.api_jobs import services_of

HEARTBEAT_SECONDS = 10.0
RETRY_MS = 2000


async def job_events(request: Request) -> Response:
    """text/event-stream of `job` events: {"id", "status", "steps": [{label, status}]}."""
    redis = services_of(request).redis
    pubsub = redis.pubsub()
    await pubsub.subscribe(JOB_EVENTS_CHANNEL)

    async def stream() -> AsyncIterator[str]:
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n"
            waited = 0.0
            while not await request.is_disconnected():
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except RedisError:
                    return  # Redis went away: end the stream; the browser comes back later
                if message is None:
                    waited += 1.0
                    if waited >= HEARTBEAT_SECONDS:
                        waited = 0.0
                        yield ": keep-alive\n\n"
                    continue
                data = message["data"]
                text = data.decode() if isinstance(data, bytes) else str(data)
                yield "event: job\ndata: " + text.replace("\n", " ") + "\n\n"
        finally:
            await asyncio.shield(_close(pubsub))

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _close(pubsub: object) -> None:
    try:
        with contextlib.suppress(RedisError):
            await pubsub.unsubscribe()  # type: ignore[attr-defined]
    finally:
        await pubsub.aclose()  # type: ignore[attr-defined]


routes = [Route("/api/events", job_events, methods=["GET"])]
