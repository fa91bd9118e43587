"""Graceful worker shutdown, end to end: real Redis, real `photo-restore worker` processes.

What Kubernetes does on a rollout or node drain: SIGTERM, then SIGKILL after
terminationGracePeriodSeconds (the chart sets it to DRAIN_SECONDS + a margin). What the worker
must guarantee in that window, and what these tests prove:

1. A job still running when SIGTERM arrives is finished if it can be within DRAIN_SECONDS;
   the worker takes no new job meanwhile, then exits 0 well before SIGKILL.
2. A job that cannot finish in time is cancelled and handed back to the queue (its record
   says "queued" again), and the worker still exits 0 before SIGKILL.
3. Another worker then runs the handed-back job to the end.
4. Nothing is lost (every job ends "done" with its result in `restored/`) and nothing is done
   twice (one result file per job, no temp file left, a finished job is not run again).

The slow part of a job is a remote model step answered by the fake HF router after `delay`
seconds, so SIGTERM lands mid-job at a known moment. Redis DB 5 belongs to these tests
(`REDIS_DRAIN_URL` overrides it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from service.jobs.arq_queue import ArqJobQueue
from service.jobs.records import JobStore
from service.queue import JobRecord, JobRequest
from service.storage.local import LocalStorage
from tests.fakerouter import FakeRouter
from tests.images import jpeg_with_exif
from tests.redis_test import redis_url

REDIS_URL = redis_url(5)
# DRAIN_WORKER_BIN: run another build of the command (e.g. a wrapper around an image).
PHOTO_RESTORE = Path(
    os.environ.get("DRAIN_WORKER_BIN") or Path(sys.executable).with_name("photo-restore")
)
REPO = Path(__file__).resolve().parents[2]
CHAIN = "restore"  # has a remote step (flux2-dev) the fake router makes as slow as we like

pytestmark = pytest.mark.slow


@pytest.fixture
async def pool() -> AsyncIterator[ArqRedis]:
    """arq's Redis pool on the tests' own database, empty before and after."""
    redis = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    await redis.flushdb()
    yield redis
    await redis.flushdb()
    await redis.aclose()


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    """The fake HF router and Hub; its `delay` is how long a remote step takes."""
    with FakeRouter(delay=4.0) as fake:
        yield fake


class Workers:
    """Starts `photo-restore worker` processes sharing one Redis, DATA_DIR and router."""

    def __init__(self, tmp: Path, router: FakeRouter) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.router = router
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *, drain: int, burst: bool = False) -> subprocess.Popen[bytes]:
        """One worker process; its output goes to <tmp>/<name>.log for the failure message."""
        env = {
            **os.environ,
            "REDIS_URL": REDIS_URL,
            "DATA_DIR": str(self.data),
            "HF_TOKEN": "hf_DrainTestToken0000000000",
            "HF_ROUTER_URL": self.router.url,
            "HF_ENDPOINT": self.router.url,
            "MODELS_FILE": str(REPO / "models.toml"),
            "DRAIN_SECONDS": str(drain),
            "JOB_CONCURRENCY": "2",
            "LOG_LEVEL": "INFO",
        }
        args = [str(PHOTO_RESTORE), "worker", "--no-watch"] + (["--burst"] if burst else [])
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, env=env, cwd=self.tmp, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        """What a worker printed."""
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        """Kill whatever is still running (only after a failed assertion)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path, router: FakeRouter, pool: ArqRedis) -> Iterator[Workers]:
    """Worker processes, killed at the end whatever happened."""
    group = Workers(tmp_path, router)
    try:
        yield group
    finally:
        group.stop_all()


async def submit(pool: ArqRedis, data: Path, names: list[str]) -> list[str]:
    """Put scans in an inbox and queue them through our queue interface, as the watcher does."""
    inbox = data / "Family" / "to-restore"
    inbox.mkdir(parents=True, exist_ok=True)
    storage = LocalStorage(data)
    queue = ArqJobQueue(pool, JobStore(pool))
    ids = []
    for i, name in enumerate(names):
        jpeg_with_exif(inbox / name, size=(320 + 16 * i, 240))
        entry = await storage.stat(f"/Family/to-restore/{name}")
        assert entry is not None
        record = await queue.submit(
            JobRequest(
                source=entry.path,
                output=f"/Family/restored/{name}",
                chain=CHAIN,
                identity=entry.identity,
                version=entry.version,
            )
        )
        assert record is not None
        ids.append(record.id)
    return ids


async def wait_for(predicate: object, timeout: float, what: str) -> None:
    """Poll an async predicate until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def records(pool: ArqRedis, ids: list[str]) -> list[JobRecord]:
    """Current job records."""
    store = JobStore(pool)
    found = [await store.get(job_id) for job_id in ids]
    assert all(found), "a job record vanished"
    return [r for r in found if r is not None]


async def exit_code(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for the process without blocking the loop."""
    return await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)


def assert_one_result_each(data: Path, names: list[str]) -> None:
    """Exactly one restored file per scan, no temp files, no failure notes."""
    restored = data / "Family" / "restored"
    files = sorted(p.name for p in restored.iterdir()) if restored.exists() else []
    assert files == sorted(names), files


async def sigterm_mid_remote_steps(
    pool: ArqRedis, workers: Workers, router: FakeRouter, names: list[str], *, drain: int
) -> tuple[list[str], subprocess.Popen[bytes]]:
    """Queue `names`, start a worker, and SIGTERM it once both remote calls are under way."""
    ids = await submit(pool, workers.data, names)
    first = workers.start("first", drain=drain)

    async def both_remote_steps_started() -> bool:
        return router.submits() >= 2

    await wait_for(both_remote_steps_started, 30, "two remote calls")
    first.send_signal(signal.SIGTERM)
    return ids, first


async def test_sigterm_mid_job_finishes_it_within_the_drain(
    pool: ArqRedis, workers: Workers, router: FakeRouter
) -> None:
    names = ["a.jpg", "b.jpg"]
    ids, first = await sigterm_mid_remote_steps(pool, workers, router, names, drain=30)
    sent = time.monotonic()
    code = await exit_code(first, 40)
    assert code == 0, workers.log("first")
    # It waited for the jobs (router delay 4 s), not for the whole drain window.
    assert time.monotonic() - sent < 25, workers.log("first")

    done = await records(pool, ids)
    assert [r.status for r in done] == ["done", "done"], workers.log("first")
    assert [r.attempts for r in done] == [1, 1]
    assert_one_result_each(workers.data, names)

    # A later worker finds nothing to redo: the paid calls are not repeated.
    second = workers.start("second", drain=30, burst=True)
    assert await exit_code(second, 30) == 0, workers.log("second")
    assert router.submits() == 2
    assert [r.attempts for r in await records(pool, ids)] == [1, 1]


async def test_sigterm_past_the_drain_hands_jobs_back_and_another_worker_finishes(
    pool: ArqRedis, workers: Workers, router: FakeRouter
) -> None:
    router.delay = 30.0  # far longer than the drain: the worker must give the jobs back
    names = ["c.jpg", "d.jpg"]
    ids, first = await sigterm_mid_remote_steps(pool, workers, router, names, drain=1)
    code = await exit_code(first, 20)
    assert code == 0, workers.log("first")

    handed_back = await records(pool, ids)
    assert [r.status for r in handed_back] == ["queued", "queued"], workers.log("first")
    assert not (workers.data / "Family" / "restored").exists() or not list(
        (workers.data / "Family" / "restored").iterdir()
    )

    router.delay = 0.5
    second = workers.start("second", drain=30, burst=True)
    assert await exit_code(second, 60) == 0, workers.log("second")

    done = await records(pool, ids)
    assert [r.status for r in done] == ["done", "done"], workers.log("second")
    assert [r.attempts for r in done] == [2, 2]
    assert_one_result_each(workers.data, names)
    # Each job's remote call ran once per attempt: the cancelled one and the finishing one.
    assert router.submits() == 4
