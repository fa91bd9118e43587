"""Many jobs creating the same output folders at once, through the real worker on Apache
mod_dav (whose losers of a MKCOL race hear 403): every job ends with its result, none fails.

Before: once in a clean CI run two jobs created `restored/` at once, one MKCOL was answered
403 and that job failed permanently. The folder-level race runs 50 times in
tests/storage/webdav/test_mkcol_race.py; this is the same race as the service meets it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.fakerouter import FakeRouter
from tests.faults.harness import (
    Outcome,
    OwnRedis,
    Service,
    dav_env,
    drop_scans,
    job_records,
    open_dirs,
    wait_until,
)
from tests.servers import DavServer

pytestmark = pytest.mark.slow


def test_jobs_racing_to_create_their_output_folders_all_succeed(
    own_redis: OwnRedis,
    apache: DavServer,
    router: FakeRouter,
    tmp_path: Path,
    recovered: list[str],
) -> None:
    router.delay = 0.0
    top = apache.root / f"m-{uuid.uuid4().hex[:8]}"
    sub = top / "Family" / "to-restore" / "1950s" / "beach"
    open_dirs(sub, apache.root)
    names = [f"s{i:02d}.jpg" for i in range(16)]
    drop_scans(sub, names)
    env = dav_env(
        apache, top, router, tmp_path / "data", REDIS_URL=own_redis.url, JOB_CONCURRENCY="8"
    )
    started = time.monotonic()
    worker = Service("worker", ["worker"], env, tmp_path)
    try:
        done = wait_until(
            lambda: sorted(j["status"] for j in job_records(own_redis.url)) == ["done"] * 16,
            "all sixteen done",
        )
        recovered.append(
            f"16 jobs, 8 at once, one new output tree: all done in "
            f"{done - started:.1f} s, no failure"
        )
    finally:
        worker.stop()
    outcome = Outcome.of(top / "Family" / "restored")
    assert outcome.results == names
    assert outcome.notes == []
    assert [p.name for p in (top / "Family" / "restored").iterdir()] == ["1950s"]
