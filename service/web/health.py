"""Liveness, readiness and metrics: what probes and Prometheus read."""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.errors import PhotoRestoreError

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    """Alive: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: Redis answers and the storage's watch root can be read."""
    services = request.app.state.services
    checks: dict[str, str] = {}
    ok = True
    try:
        await asyncio.wait_for(services.redis.ping(), timeout=3)
        checks["redis"] = "ok"
    except (RedisError, OSError, TimeoutError) as exc:
        ok, checks["redis"] = False, f"error: {type(exc).__name__}"
    try:
        await asyncio.wait_for(services.storage.stat(services.settings.watch_root), timeout=5)
        checks["storage"] = "ok"
    except (PhotoRestoreError, OSError, TimeoutError) as exc:
        ok, checks["storage"] = False, f"error: {type(exc).__name__}"
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


async def metrics(request: Request) -> Response:
    """Prometheus text format, with the queue depth and job counts read now."""
    from service import metrics as m

    services = request.app.state.services
    try:
        m.set_queue_depth(await services.queue.depth())
        m.set_job_counts(await services.store.counts())
    except (RedisError, OSError) as exc:  # metrics must answer even when Redis is away
        log.debug("metrics without queue figures: %s", exc)
    body, content_type = m.render_metrics()
    return Response(body, media_type=content_type)
