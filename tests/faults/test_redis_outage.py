"""Redis stopped and started mid-job, through the real worker on a real WebDAV server.

Before: the running job got a permanent `.failed.txt` ("internal error: ConnectionError"),
the worker's loop died, liveness stayed green, tracebacks filled the log. Now the jobs pause
and go on, no note is written, no paid call is repeated, `worker --check` fails while the
worker cannot work, and the log says it once.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.fakerouter import FakeRouter
from tests.faults.harness import (
    Outcome,
    OwnRedis,
    Service,
    check_worker,
    dav_env,
    drop_scans,
    free_port,
    job_records,
    service_env,
    statuses,
    wait_until,
)
from tests.servers import DavServer

pytestmark = pytest.mark.slow
NAMES = ["a.jpg", "b.jpg"]


def test_redis_stopped_and_started_mid_job_loses_nothing_and_writes_no_note(
    own_redis: OwnRedis,
    wsgidav: DavServer,
    top: Path,
    router: FakeRouter,
    tmp_path: Path,
    recovered: list[str],
) -> None:
    env = dav_env(wsgidav, top, router, tmp_path / "data", REDIS_URL=own_redis.url)
    drop_scans(top / "Family" / "to-restore", NAMES)
    worker = Service("worker", ["worker"], env, tmp_path)
    try:
        wait_until(lambda: router.submits() >= len(NAMES), "both jobs in their remote step")
        own_redis.stop()
        stopped = time.monotonic()
        assert check_worker(env, tmp_path) == 1  # liveness: this worker cannot work now
        time.sleep(2.0)  # the outage lasts a while, through the jobs' remote steps
        own_redis.start()
        back = time.monotonic()
        done = wait_until(lambda: statuses(own_redis.url) == ["done", "done"], "both jobs done")
        recovered.append(
            f"Redis stopped mid-job for {back - stopped:.1f} s: both jobs done "
            f"{done - back:.1f} s after it came back"
        )
        wait_until(lambda: check_worker(env, tmp_path) == 0, "liveness green again")
    finally:
        worker.stop()
    outcome = Outcome.of(top / "Family" / "restored")
    assert outcome.results == NAMES  # nothing lost, nothing twice
    assert outcome.notes == []
    assert outcome.temp == []
    assert [j["attempts"] for j in job_records(own_redis.url)] == [1, 1]  # no try spent
    log = worker.log()
    assert router.submits() == len(NAMES), log  # no paid call repeated
    assert log.count("Redis unavailable") == 1, log  # said once, not per second
    assert log.count("Redis back after") == 1, log
    assert "Traceback" not in log, log


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def test_the_embedded_redis_stopped_mid_job_is_started_again_and_the_jobs_finish(
    router: FakeRouter, tmp_path: Path, recovered: list[str]
) -> None:
    data = tmp_path / "data"
    inbox = data / "Family" / "to-restore"
    inbox.mkdir(parents=True)
    drop_scans(inbox, NAMES)
    port = free_port()
    env = service_env(
        data,
        PORT=str(port),
        HF_TOKEN="hf_FaultTestToken000000000000",
        HF_ROUTER_URL=router.url,
        HF_ENDPOINT=router.url,
    )
    up = Service("up", ["up"], env, tmp_path)
    try:
        wait_until(lambda: router.submits() >= len(NAMES), "both jobs in their remote step")
        [embedded] = children(up.pid)
        os.kill(embedded, signal.SIGTERM)  # it saves and exits: nobody asked us
        stopped = time.monotonic()
        restored = wait_until(
            lambda: len(Outcome.of(data / "Family" / "restored").results) == len(NAMES),
            "both results",
        )
        wait_until(lambda: children(up.pid) and children(up.pid) != [embedded], "a new Redis")
        recovered.append(
            f"embedded Redis stopped mid-job: restarted by the supervisor, both results "
            f"{restored - stopped:.1f} s later"
        )
    finally:
        assert up.stop() == 0, up.log()
    outcome = Outcome.of(data / "Family" / "restored")
    assert outcome.results == NAMES
    assert outcome.notes == []
    assert router.submits() == len(NAMES)
    assert "starting it again" in up.log()
