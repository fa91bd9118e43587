"""`up`, `serve` and `worker`: the long-running processes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from service.config.settings import Settings
from service.errors import ConfigError
from service.logs import report_crash
from service.runtime.embedded_redis import EmbeddedRedis
from service.runtime.services import Services

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def listen_host(settings: Settings) -> str:
    """Where to listen: without a password or a trusted auth header, loopback only."""
    if settings.host not in LOOPBACK and not settings.dashboard_protected:
        log.warning(
            "HOST=%s ignored: set DASHBOARD_PASSWORD or AUTH_HEADER to listen beyond "
            "this machine; listening on 127.0.0.1",
            settings.host,
        )
        return "127.0.0.1"
    return settings.host


def dashboard_url(settings: Settings, host: str) -> str:
    """The URL printed for the user."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{settings.port}/"


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: it re-raises SIGTERM after serving, which would
    kill the process before the worker drains and the embedded Redis stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _uvicorn(app: Any, settings: Settings, host: str) -> _Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # Forwarded headers are the app's to judge, against TRUSTED_PROXIES
        # (service.web.proxy): uvicorn's own handling would hide the real peer from it.
        proxy_headers=False,
    )
    return _Server(config)


def _stop_on_signals(server: _Server, also: Callable[[signal.Signals], None] | None = None) -> None:
    """First Ctrl-C/SIGTERM: stop gracefully; a second one: stop now."""
    loop = asyncio.get_running_loop()

    def handle(sig: signal.Signals) -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
        if also is not None:
            also(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handle, sig)


def _redis_url(settings: Settings, stack: contextlib.ExitStack) -> str:
    if settings.redis_url:
        return settings.redis_url
    embedded = stack.enter_context(EmbeddedRedis(settings.state_dir))
    return embedded.url


def up(settings: Settings, args: argparse.Namespace) -> int:
    """Dashboard + worker + watcher in one process, with an embedded Redis if needed."""
    with contextlib.ExitStack() as stack:
        redis_url = _redis_url(settings, stack)
        return asyncio.run(_up(settings, redis_url))


async def _up(settings: Settings, redis_url: str) -> int:
    from service.runtime.worker import make_worker
    from service.web.app import create_app

    services = await Services.open(settings, redis_url)
    host = listen_host(settings)
    server = _uvicorn(create_app(settings, services=services), settings, host)
    worker = make_worker(settings, redis_url, services=services, handle_signals=False)
    storage = settings.owncloud_url if settings.uses_owncloud else str(settings.data_dir.resolve())
    _stop_on_signals(server)
    try:
        worker_task = asyncio.create_task(worker.main(), name="worker")
        worker_task.add_done_callback(report_crash)  # the dashboard keeps serving: say so
        serve_task = asyncio.create_task(server.serve(), name="web")
        while not server.started and not serve_task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if serve_task.done():
            serve_task.result()
            raise ConfigError(f"could not listen on {host}:{settings.port} (setting PORT)")
        inbox = settings.inbox_name
        print(f"photo-restore is running: {dashboard_url(settings, host)}", flush=True)
        print(
            f"  storage: {storage}   drop scans into …/{inbox}/ (e.g. Family/{inbox}/)", flush=True
        )
        print(
            f"  default chain: {services.default_chain}   redis: "
            f"{'embedded' if not settings.redis_url else 'REDIS_URL'}   Ctrl-C to stop",
            flush=True,
        )
        await serve_task  # uvicorn handles Ctrl-C / SIGTERM and returns
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.close(), timeout=settings.drain_seconds + 5)
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker_task
        await services.aclose()
    return 0


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """The web process only; it needs a shared Redis unless used alone."""
    from service.web.app import create_app

    with contextlib.ExitStack() as stack:
        redis_url = _redis_url(settings, stack)
        host = listen_host(settings)
        server = _uvicorn(create_app(settings, redis_url=redis_url), settings, host)
        print(f"photo-restore web on {dashboard_url(settings, host)}", flush=True)

        async def main() -> None:
            _stop_on_signals(server)
            await server.serve()

        asyncio.run(main())
    return 0


def worker(settings: Settings, args: argparse.Namespace) -> int:
    """An arq worker (jobs + polling), or its health check with --check."""
    from service.runtime.worker import make_worker, worker_is_healthy

    if args.check:
        if not settings.redis_url:
            raise ConfigError("setting REDIS_URL: required for `worker --check`")
        return 0 if asyncio.run(worker_is_healthy(settings.redis_url)) else 1
    if settings.metrics_port:
        from service.metrics import start_metrics_server

        start_metrics_server(settings.metrics_port)
    with contextlib.ExitStack() as stack:
        redis_url = _redis_url(settings, stack)

        async def main() -> None:
            # Built inside the running loop: arq binds its signal-time tasks to this loop.
            w = make_worker(
                settings, redis_url, watch=not args.no_watch, burst=args.burst, handle_signals=False
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, _graceful, w, sig)
            try:
                # async_run() sets w.main_task, which arq's signal handlers cancel to stop
                # the worker; `await w.main()` leaves it None and SIGTERM never ends the loop.
                await w.async_run()
            except asyncio.CancelledError:
                pass
            finally:
                # Let cancelled jobs finish handing themselves back first: close() cancels
                # anything still running a second time and then closes the Redis pools.
                await asyncio.gather(*w.tasks.values(), return_exceptions=True)
                await w.close()

        asyncio.run(main())
        print("worker stopped", file=sys.stderr)
    return 0


def _graceful(w: object, sig: signal.Signals) -> None:
    # arq's own handler cancels at once when job_completion_wait is 0; ours defers through it.
    if getattr(w, "_job_completion_wait", 0):
        w.handle_sig_wait_for_completion(sig)  # type: ignore[attr-defined]
    else:
        w.handle_sig(sig)  # type: ignore[attr-defined]
