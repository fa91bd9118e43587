"""The service against a fake HF router on loopback: restore over fal-ai, failover, no double pay.

Real Redis, real arq worker, real watcher and local storage; only the router is fake (it speaks
the providers' protocols, see tests/fakerouter.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from redis.asyncio import Redis

from service.config.settings import Settings
from service.runtime.services import Services
from tests.e2e.conftest import REDIS, poll_and_work
from tests.fakerouter import FakeRouter
from tests.images import DATE_TAKEN, jpeg_with_exif

TOKEN = "hf_e2e_test_token_123456"


def router_with(**kw: object) -> Iterator[FakeRouter]:
    with FakeRouter(**kw) as router:  # type: ignore[arg-type]
        yield router


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    yield from router_with()


@pytest.fixture
def failing_router() -> Iterator[FakeRouter]:
    yield from router_with(fail={"fal-ai": 402})


async def open_services(tmp_path: Path, router: FakeRouter) -> Services:
    settings = Settings(
        data_dir=tmp_path / "data",
        hf_token=TOKEN,
        hf_router_url=router.url,  # type: ignore[arg-type]
        hf_endpoint=router.url,
        settle_seconds=0,
        retry_base_seconds=0.1,
    )
    return await Services.open(settings, REDIS)


def drop(services: Services, rel: str) -> Path:
    path = services.settings.data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    jpeg_with_exif(path, size=(640, 480))
    return path


async def test_restore_chain_runs_over_fal_and_keeps_the_scans_size(
    tmp_path: Path, router: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, router)
    try:
        assert services.default_chain == "restore"  # a token is present
        drop(services, "Family/to-restore/oma.jpg")
        await poll_and_work(services)
        out = services.settings.data_dir / "Family/restored/oma.jpg"
        with Image.open(out) as im:
            assert im.size == (640, 480)  # match_size brought the model's answer back
            assert im.getexif().get_ifd(0x8769).get(0x9003) == DATE_TAKEN
        jobs, _ = await services.store.list()
        assert jobs[0].status == "done", jobs[0].error
        remote = [s for s in jobs[0].steps if s["kind"] == "remote"]
        assert remote[0]["provider"] == "fal-ai"
        assert remote[0]["model"]
        assert router.submits("fal-ai") == 1
        assert router.submits("replicate") == 0
        # Nothing that left the machine carried the scan's EXIF (date, camera).
        sent = [c for c in router.calls if c.provider == "fal-ai" and c.method == "POST"]
        assert sent
        assert b"Epson" not in repr(sent[0].json).encode()

        # Re-running the same job pays nothing: the step cache answers.
        before = len(router.calls)
        assert await services.queue.requeue(jobs[0].id)
        await poll_and_work(services)
        again = await services.store.get(jobs[0].id)
        assert again is not None
        assert again.status == "done"
        assert [s["status"] for s in again.steps if s["kind"] == "remote"] == ["cached"]
        assert len(router.calls) == before
    finally:
        await services.aclose()


async def test_payment_required_on_fal_is_answered_by_the_next_provider(
    tmp_path: Path, failing_router: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, failing_router)
    try:
        drop(services, "F/to-restore/x.jpg")
        await poll_and_work(services)
        jobs, _ = await services.store.list()
        assert jobs[0].status == "done", jobs[0].error
        remote = [s for s in jobs[0].steps if s["kind"] == "remote"]
        assert remote[0]["provider"] == "replicate"
        assert failing_router.submits("fal-ai") == 1
        assert failing_router.submits("replicate") == 1
        assert (services.settings.data_dir / "F/restored/x.jpg").is_file()
    finally:
        await services.aclose()


def test_cli_restore_twice_calls_the_router_once(tmp_path: Path, router: FakeRouter) -> None:
    scan = tmp_path / "scan.jpg"
    jpeg_with_exif(scan)
    env = {
        **os.environ,
        "HF_TOKEN": TOKEN,
        "HF_ROUTER_URL": router.url,
        "HF_ENDPOINT": router.url,
        "DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("REDIS_URL", None)
    for _ in range(2):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "service.cli",
                "restore",
                str(scan),
                "--chain",
                "restore",
                "-o",
                str(tmp_path / "out"),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/scan.jpg").is_file()
    assert router.submits() == 1
