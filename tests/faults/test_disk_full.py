"""A full disk, then freed, through the real `photo-restore up` (embedded Redis, its snapshot,
the scratch folder and, for local storage, the results too all on one small, really full
tmpfs).

Before: 6 of 8 jobs failed "No space left on device" as permanent, Redis went MISCONF and
refused every write, and after freeing space nothing recovered. Now the jobs wait and retry,
no note is written, Redis keeps taking writes, and every scan is restored once.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fakerouter import FakeRouter
from tests.faults.disk import fill, small_disk
from tests.faults.harness import (
    Outcome,
    Service,
    dav_env,
    drop_scans,
    free_port,
    service_env,
    wait_until,
)
from tests.servers import DavServer

pytestmark = pytest.mark.slow
NAMES = [f"scan{i}.jpg" for i in range(4)]


def jobs(port: int) -> list[dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/jobs?limit=200") as r:
            return list(json.load(r)["jobs"])
    except OSError:
        return []


def started(up: Service, port: int) -> None:
    wait_until(lambda: f"127.0.0.1:{port}" in up.log(), "up to print its URL", guard=60)


def setup(
    storage: str, wsgidav: DavServer, top: Path, router: FakeRouter, data: Path, port: int
) -> tuple[dict[str, str], Path, Path]:
    """The environment of `up`, and its inbox and output folder."""
    if storage == "webdav":
        # Two at a time: the later two download their originals onto the full disk.
        env = dav_env(wsgidav, top, router, data, PORT=str(port), JOB_CONCURRENCY="2")
        return env, top / "Family" / "to-restore", top / "Family" / "restored"
    # All at once: every result is written onto the full disk.
    env = service_env(
        data,
        PORT=str(port),
        JOB_CONCURRENCY="4",
        HF_TOKEN="hf_FaultTestToken000000000000",
        HF_ROUTER_URL=router.url,
        HF_ENDPOINT=router.url,
    )
    (data / "Family" / "to-restore").mkdir(parents=True)
    return env, data / "Family" / "to-restore", data / "Family" / "restored"


@pytest.mark.parametrize("storage", ["webdav", "local"])
def test_a_full_disk_makes_jobs_wait_and_freeing_it_finishes_every_one(
    storage: str,
    wsgidav: DavServer,
    top: Path,
    router: FakeRouter,
    tmp_path: Path,
    recovered: list[str],
) -> None:
    router.delay = 1.0
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        port = free_port()
        env, inbox, restored = setup(storage, wsgidav, top, router, data, port)
        drop_scans(inbox, NAMES)
        up = Service("up", ["up"], env, tmp_path)
        try:
            started(up, port)
            # Full while the jobs are in their remote step: their results (local storage) or
            # their downloads (WebDAV: the temporary copy) find no space.
            wait_until(lambda: router.submits() >= 2, "jobs in their remote step")
            filler = fill(disk)
            time.sleep(2.0)  # full for a while
            assert not [j for j in jobs(port) if j["status"] == "failed"]
            filler.unlink()
            freed = time.monotonic()
            done = wait_until(
                lambda: [j["status"] for j in jobs(port)] == ["done"] * len(NAMES),
                "every job done",
            )
            recovered.append(
                f"disk full for 2 s ({storage} storage, {len(NAMES)} scans): all done "
                f"{done - freed:.1f} s after space was freed"
            )
            records = jobs(port)
        finally:
            assert up.stop() == 0, up.log()
        outcome = Outcome.of(restored)
        assert outcome.results == sorted(NAMES), up.log()
        assert outcome.notes == []
        assert outcome.temp == []
        assert all(j["attempts"] == 1 for j in records), records  # the waits spent no try
        assert router.submits() == len(NAMES)  # no paid call repeated
        log = up.log()
        assert "no space left on the local disk" in log, log  # the disk was really full
        assert "MISCONF" not in log, log
        assert "internal error" not in log, log
        assert not list((data / ".photo-restore" / "tmp").glob("*/job-*"))  # nothing left
