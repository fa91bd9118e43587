"""Jobs left running by a worker that is gone are handed back at once (their lease tells), and
a process's temporary files live under the state folder and are cleared at the next start."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from service.config.settings import Settings
from service.constants import QUEUE_NAME, RUNNING_JOBS_KEY
from service.jobs.arq_queue import ArqJobQueue
from service.jobs.records import JobStore
from service.jobs.recovery import JobLeases, worker_lease
from service.lease import Owner
from service.queue import JobRequest
from service.runtime.scratch import OWNER_FILE, clear_stale, open_scratch
from tests.runtime.conftest import REDIS_URL


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def running_job(pool: ArqRedis, name: str, owner: Owner) -> str:
    """A queued job that a worker (`owner`) took: arq's in-progress mark, record "running"."""
    store = JobStore(pool)
    record = await ArqJobQueue(pool, store).submit(
        JobRequest(
            source=f"/F/to-restore/{name}",
            output=f"/F/restored/{name}",
            chain="classic",
            identity=name,
            version="1",
        )
    )
    assert record is not None
    await pool.psetex(in_progress_key_prefix + record.id, 910_000, b"1")
    await store.update(record.id, status="running", attempts=1)
    await pool.hset(RUNNING_JOBS_KEY, record.id, owner.encode())
    return record.id


async def test_a_job_of_a_worker_that_died_is_handed_back_at_once(redis: Redis) -> None:
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    try:
        dead = dataclasses.replace(Owner.me("dead"), pid=dead_pid())
        job = await running_job(pool, "a.jpg", dead)
        leases = JobLeases(pool, JobStore(pool), worker_lease(pool))
        assert await leases.recover() == [job]
        record = await JobStore(pool).get(job)
        assert record is not None
        assert record.status == "queued"
        assert f"{dead.process} stopped" in (record.note or "")
        assert not await pool.exists(in_progress_key_prefix + job)  # arq may run it now
        assert (await pool.zscore(QUEUE_NAME, job) or 0) <= time.time() * 1000
        assert await leases.recover() == []  # once
    finally:
        await pool.aclose()


async def test_a_job_of_a_live_worker_is_left_alone(redis: Redis) -> None:
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    try:
        other = worker_lease(pool)  # another worker of this host, heartbeat alive
        assert await other.acquire()
        job = await running_job(pool, "b.jpg", other.owner)
        leases = JobLeases(pool, JobStore(pool), worker_lease(pool))
        assert await leases.recover() == []
        record = await JobStore(pool).get(job)
        assert record is not None
        assert record.status == "running"
    finally:
        await pool.aclose()


async def test_a_job_of_a_worker_elsewhere_whose_heartbeat_lapsed_is_handed_back(
    redis: Redis,
) -> None:
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    try:
        elsewhere = dataclasses.replace(Owner.me("far"), host="another-pod")
        job = await running_job(pool, "c.jpg", elsewhere)  # and no heartbeat key for it
        leases = JobLeases(pool, JobStore(pool), worker_lease(pool))
        assert await leases.recover() == [job]
    finally:
        await pool.aclose()


def owned_folder(root: Path, name: str, owner: Owner) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / OWNER_FILE).write_text(owner.encode())
    (folder / "job-1").mkdir()
    (folder / "job-1" / "original").write_bytes(b"x" * 1000)
    return folder


def test_a_stopped_process_s_temporary_files_are_cleared_and_a_live_one_s_kept(
    tmp_path: Path,
) -> None:
    gone = owned_folder(tmp_path, "gone", dataclasses.replace(Owner.me("g"), pid=dead_pid()))
    alive = owned_folder(tmp_path, "alive", Owner.me("a"))
    far = owned_folder(tmp_path, "far", dataclasses.replace(Owner.me("f"), host="other-pod"))
    assert clear_stale(tmp_path) == 1
    assert not gone.exists()
    assert alive.exists()
    assert far.exists()


def test_temporary_files_live_under_the_state_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    mine = open_scratch(settings)
    assert settings.state_dir in mine.parents
    assert json.loads((mine / OWNER_FILE).read_text())["pid"] == Owner.me().pid
