"""The dashboard's real app (with a worker and the watcher) in a background loop, sample scans,
and the waits a browser test needs; shared by the tests and scripts/screenshots."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import uvicorn
from PIL import Image, ImageDraw

from service.config.settings import Settings
from service.constants import JOB_KEY, JOBS_ALL
from service.runtime.services import Services
from service.runtime.worker import make_worker
from service.web.app import create_app
from tests.redis_test import redis_url

REDIS_URL = redis_url(4)
INBOX = Path("Family") / "to-restore"
PASSWORD = "correct horse battery"
MODELS = Path(__file__).resolve().parents[2] / "service" / "config" / "models.toml"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Fast settings for tests: short polls and settle, the real models.toml, no .env."""
    values: dict[str, Any] = dict(
        data_dir=data_dir,
        redis_url=REDIS_URL,
        poll_interval=0.5,
        settle_seconds=0.2,
        retry_base_seconds=0.5,
        models_file=MODELS,
        dashboard_password=PASSWORD,
        hf_token=None,
        default_chain="classic",
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def scan_bytes(width: int = 480, height: int = 360, seed: int = 1) -> bytes:
    """A small synthetic 'old photo' JPEG: a faded gradient with a face-like shape."""
    im = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(im)
    for y in range(height):
        v = 90 + int(100 * y / height)
        draw.line([(0, y), (width, y)], fill=(v + 20, v + 10, v - 20))
    draw.ellipse([width * 0.35, height * 0.2, width * 0.65, height * 0.7], fill=(200, 170, 140))
    draw.rectangle([width * 0.2, height * 0.75, width * 0.8, height], fill=(60, 50, 45 + seed))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def old_photo_bytes(width: int = 1400) -> bytes:
    """A real photograph (scikit-image's astronaut) aged: faded, yellowed, grainy, dusty.

    Falls back to the synthetic scan when scikit-image is not installed."""
    try:
        from skimage import data as skdata
    except ImportError:
        return scan_bytes(width, width * 3 // 4)
    import numpy as np

    rng = np.random.default_rng(7)
    im = Image.fromarray(skdata.astronaut()).resize((width, width), Image.Resampling.LANCZOS)
    a = np.asarray(im, np.float32) * 0.6 + 50
    a = a * np.array([1.0, 0.92, 0.7]) + rng.normal(0, 7, a.shape[:2])[..., None]
    for _ in range(160):
        y, x = rng.integers(2, width - 2, 2)
        a[y - 1 : y + 2, x - 1 : x + 2] = 240
    buf = io.BytesIO()
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=88)
    return buf.getvalue()


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app (and optionally a worker with the watcher) in a background event loop."""

    def __init__(self, settings: Settings, *, worker: bool = True) -> None:
        self.settings = settings
        self.worker = worker
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits in start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        redis_url = self.settings.redis_url or REDIS_URL
        services = await Services.open(self.settings, redis_url)
        app = create_app(self.settings, services=services)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        serve = asyncio.create_task(server.serve())
        worker = (
            make_worker(self.settings, redis_url, services=services, handle_signals=False)
            if self.worker
            else None
        )
        work = asyncio.create_task(worker.main()) if worker else None
        while not server.started:
            if serve.done():
                await serve
            await asyncio.sleep(0.02)
        self._ready.set()
        await self._stop.wait()
        server.should_exit = True
        await serve
        if worker is not None and work is not None:
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            await worker.close()
        await services.aclose()

    def start(self) -> LiveServer:
        """Start and wait until it answers."""
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop the worker and server and wait for the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


def all_jobs(rdb: redis.Redis) -> list[dict[str, Any]]:
    """Every job record, newest first."""
    ids = rdb.zrevrange(JOBS_ALL, 0, -1)
    return (
        [json.loads(raw) for raw in rdb.mget([JOB_KEY + i.decode() for i in ids]) if raw]
        if ids
        else []
    )


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_job(
    rdb: redis.Redis, predicate: Callable[[dict[str, Any]], bool], timeout: float = 40.0
) -> dict[str, Any]:
    """The first job record matching `predicate`, waiting for it."""

    def find() -> dict[str, Any] | None:
        return next((j for j in all_jobs(rdb) if predicate(j)), None)

    return wait_for(find, timeout, "a matching job")


def sign_in(page: Any, server: LiveServer, password: str = PASSWORD) -> None:
    """Use the login form."""
    page.goto(server.url + "/login")
    page.get_by_label("Dashboard password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(server.url) + r"/(\?.*)?$"))


def drop(data_dir: Path, name: str, data: bytes | None = None) -> Path:
    """Put a file into the inbox as a sync client would (write, then rename into place)."""
    target = data_dir / INBOX / name
    tmp = target.with_name("." + name + ".part")
    tmp.write_bytes(scan_bytes() if data is None else data)
    tmp.rename(target)
    return target


def done_job(rdb: redis.Redis, name: str) -> dict[str, Any]:
    """The finished job of the inbox file `name`, waiting for it."""
    return wait_job(rdb, lambda j: j["source"].endswith("/" + name) and j["status"] == "done")
