"""A worker killed (SIGKILL) mid-job, a restart while the dead one still holds the watch
lease, and two workers racing for the lease: through real worker processes, a Redis of the
test's own and a real WebDAV server.

Before: a killed worker's job showed "running" for 15 minutes (the job timeout), its 36 MB
temporary copy stayed in /tmp, and a restarted watcher waited up to 3 × POLL_INTERVAL for a
lease nobody would ever renew. Now the lease names its owner and a dead owner is known at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from service.constants import WATCH_LOCK_KEY
from service.lease import Owner
from tests.fakerouter import FakeRouter
from tests.faults.harness import (
    Outcome,
    OwnRedis,
    Service,
    dav_env,
    drop_scans,
    job_records,
    statuses,
    wait_until,
)
from tests.servers import DavServer

pytestmark = pytest.mark.slow


def lease_holder(url: str) -> int | None:
    client = redis.Redis.from_url(url)
    try:
        owner = Owner.decode(client.get(WATCH_LOCK_KEY))
    except redis.RedisError:
        owner = None
    finally:
        client.close()
    return owner.pid if owner else None


def scratch_folders(data: Path) -> list[Path]:
    root = data / ".photo-restore" / "tmp"
    return sorted(root.iterdir()) if root.exists() else []


def test_sigkill_mid_job_then_restart_hands_the_jobs_back_at_once(
    own_redis: OwnRedis,
    wsgidav: DavServer,
    top: Path,
    router: FakeRouter,
    tmp_path: Path,
    recovered: list[str],
) -> None:
    names = ["a.jpg", "b.jpg"]
    data = tmp_path / "data"
    env = dav_env(wsgidav, top, router, data, REDIS_URL=own_redis.url)
    drop_scans(top / "Family" / "to-restore", names)
    first = Service("first", ["worker"], env, tmp_path)
    wait_until(lambda: router.submits() >= len(names), "both jobs in their remote step")
    [left] = scratch_folders(data)  # the killed worker's copies of the originals
    assert list(left.glob("job-*/.original*")) or list(left.glob("job-*/original"))
    first.kill()
    assert statuses(own_redis.url) == ["running", "running"]
    restarted = time.monotonic()
    second = Service("second", ["worker"], env, tmp_path)
    try:
        done = wait_until(lambda: statuses(own_redis.url) == ["done", "done"], "jobs done")
        recovered.append(
            f"SIGKILL mid-job: both jobs done {done - restarted:.1f} s after the restart "
            "(was: 'running' for the 15 min job timeout)"
        )
        assert not left.exists()  # cleared at the start of the next process
    finally:
        assert second.stop() == 0, second.log()
    outcome = Outcome.of(top / "Family" / "restored")
    assert outcome.results == names
    assert outcome.notes == []
    assert outcome.temp == []
    notes = [j["note"] or "" for j in job_records(own_redis.url)]
    assert all(j["attempts"] == 2 for j in job_records(own_redis.url))  # one killed, one done
    assert f"worker vm:{first.pid}" in second.log() or any(str(first.pid) in n for n in notes), (
        second.log()
    )
    assert scratch_folders(data) == []  # a clean stop leaves nothing


def test_a_restart_takes_over_the_watch_lease_a_killed_process_still_holds(
    own_redis: OwnRedis,
    wsgidav: DavServer,
    top: Path,
    router: FakeRouter,
    tmp_path: Path,
    recovered: list[str],
) -> None:
    router.delay = 0.2
    env = dav_env(
        wsgidav, top, router, tmp_path / "data", REDIS_URL=own_redis.url, POLL_INTERVAL="60"
    )
    first = Service("first", ["worker"], env, tmp_path)
    wait_until(lambda: lease_holder(own_redis.url) == first.pid, "the first worker's lease")
    first.kill()  # the lease stays in Redis for its whole time to live
    drop_scans(top / "Family" / "to-restore", ["late.jpg"])
    restarted = time.monotonic()
    second = Service("second", ["worker"], env, tmp_path)
    try:
        held = wait_until(lambda: lease_holder(own_redis.url) == second.pid, "taken over")
        done = wait_until(lambda: statuses(own_redis.url) == ["done"], "the scan restored")
        recovered.append(
            f"restart with a held lease: lease taken over {held - restarted:.1f} s and the "
            f"scan restored {done - restarted:.1f} s after the restart "
            "(was: up to 3 × POLL_INTERVAL = 180 s here)"
        )
    finally:
        assert second.stop() == 0, second.log()
    assert f"taken over from {Owner.me().host}:{first.pid}" in second.log()
    assert Outcome.of(top / "Family" / "restored").results == ["late.jpg"]
    assert lease_holder(own_redis.url) is None  # released on the clean stop


def test_two_workers_racing_for_the_lease_poll_one_at_a_time_and_hand_over(
    own_redis: OwnRedis,
    wsgidav: DavServer,
    top: Path,
    router: FakeRouter,
    tmp_path: Path,
    recovered: list[str],
) -> None:
    router.delay = 0.2
    env = dav_env(wsgidav, top, router, tmp_path / "data", REDIS_URL=own_redis.url)
    one = Service("one", ["worker"], env, tmp_path)
    two = Service("two", ["worker"], env, tmp_path)
    try:
        wait_until(lambda: lease_holder(own_redis.url) in (one.pid, two.pid), "a holder")
        holder, standby = (one, two) if lease_holder(own_redis.url) == one.pid else (two, one)
        drop_scans(top / "Family" / "to-restore", ["p1.jpg", "p2.jpg", "p3.jpg"])
        wait_until(lambda: statuses(own_redis.url) == ["done"] * 3, "three scans done")
        assert "queued " not in standby.log()  # the standby watched nothing
        holder.kill()
        killed = time.monotonic()
        wait_until(lambda: lease_holder(own_redis.url) == standby.pid, "the standby taking over")
        took = time.monotonic()
        drop_scans(top / "Family" / "to-restore", ["p4.jpg"])
        done = wait_until(lambda: statuses(own_redis.url) == ["done"] * 4, "the fourth done")
        recovered.append(
            f"lease race: the standby took over {took - killed:.1f} s after the holder was "
            f"killed; a new scan restored {done - took:.1f} s later"
        )
    finally:
        for proc in (one, two):
            proc.stop()
    outcome = Outcome.of(top / "Family" / "restored")
    assert outcome.results == ["p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"]
    assert outcome.notes == []
    assert outcome.temp == []
    assert len(job_records(own_redis.url)) == 4  # one job per scan, whoever watched
