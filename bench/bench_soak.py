"""Soak: 2,000 small scans dropped at once, Redis restarted twice and a worker killed meanwhile.

    .venv/bin/python bench/bench_soak.py               # 2,000 scans, Apache mod_dav
    .venv/bin/python bench/bench_soak.py --scans 300   # a quicker look

The real processes — `photo-restore serve` (the dashboard) and two `photo-restore worker`s
(one of them watching) — share a Redis of the bench's own and Apache mod_dav as the storage.
While the queue drains: at a quarter of the results Redis is stopped for 2 s and started
again; at half, the watching worker is killed (SIGKILL) and a new one started; at three
quarters Redis is restarted again. A thread asks `GET /api/jobs` every 100 ms all along.

Printed: whether all scans were restored exactly once (results, notes, temporary files, job
records), how long each phase took, and the dashboard's latency percentiles (goal: p95 under
50 ms), with the requests that failed while Redis was away counted apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.harness import (
    Outcome,
    OwnRedis,
    Service,
    free_port,
    job_records,
    open_dirs,
    service_env,
    wait_until,
)
from tests.images import jpeg_with_exif
from tests.servers import DavServer, start_apache

REPO = Path(__file__).resolve().parents[1]
SOAK_CHAIN = """
[chains.soak]
title = "Soak"
description = "One cheap local step: the bench measures the queue and its faults, not ops."
[[chains.soak.steps]]
op = "auto_orient"
"""


class Latency(threading.Thread):
    """GET /api/jobs every 100 ms; successes timed, failures counted."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/api/jobs?limit=50"
        self.times: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as r:
                    json.load(r)
                self.times.append(time.perf_counter() - start)
            except OSError:
                self.failures += 1


def restored_count(folder: Path) -> int:
    return len(list(folder.glob("*.jpg"))) if folder.exists() else 0


def restart_redis(redis: OwnRedis, what: str, phases: list[str]) -> None:
    start = time.monotonic()
    redis.stop()
    time.sleep(2.0)
    redis.start()
    phases.append(f"{what}: Redis away {time.monotonic() - start:.1f} s")


def drive(
    server: DavServer, redis: OwnRedis, work: Path, scans: int, phases: list[str]
) -> tuple[Path, Latency, float]:
    top = server.root / f"soak-{uuid.uuid4().hex[:6]}"
    inbox = top / "Family" / "to-restore"
    open_dirs(inbox, server.root)
    models = work / "models.toml"
    models.write_text((REPO / "models.toml").read_text() + SOAK_CHAIN)
    port = free_port()
    env = service_env(
        work / "data",
        OWNCLOUD_URL=server.url,
        WATCH_ROOT="/" + top.relative_to(server.root).as_posix(),
        REDIS_URL=redis.url,
        MODELS_FILE=str(models),
        DEFAULT_CHAIN="soak",
        JOB_CONCURRENCY="4",
        PORT=str(port),
        LOG_LEVEL="WARNING",
    )
    web = Service("serve", ["serve"], env, work)
    workers = [Service(f"worker{i}", ["worker"], env, work) for i in range(2)]
    wait_until(lambda: f"127.0.0.1:{port}" in web.log(), "the dashboard", guard=60)
    latency = Latency(port)
    latency.start()
    for i in range(scans):
        jpeg_with_exif(inbox / f"scan{i:05d}.jpg", size=(48 + i % 16, 36))
    started = time.monotonic()
    out = top / "Family" / "restored"
    try:
        wait_until(lambda: restored_count(out) >= scans // 4, "a quarter", guard=3600)
        restart_redis(redis, f"at {restored_count(out)} results", phases)
        wait_until(lambda: restored_count(out) >= scans // 2, "half", guard=3600)
        workers[0].kill()  # the one watching, or not: either way its jobs come back
        phases.append(f"at {restored_count(out)} results: worker0 killed, worker2 started")
        workers.append(Service("worker2", ["worker"], env, work))
        wait_until(lambda: restored_count(out) >= 3 * scans // 4, "three quarters", guard=3600)
        restart_redis(redis, f"at {restored_count(out)} results", phases)
        wait_until(
            lambda: sum(j["status"] == "done" for j in job_records(redis.url)) >= scans,
            "every job done",
            guard=3600,
        )
        elapsed = time.monotonic() - started
    finally:
        latency.stop.set()
        for proc in [*workers, web]:
            if proc.process.poll() is None:
                proc.stop()
    return out, latency, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    server = start_apache()
    redis = OwnRedis()
    redis.start()
    phases: list[str] = []
    try:
        out, latency, elapsed = drive(server, redis, work, args.scans, phases)
        outcome = Outcome.of(out)
        records = job_records(redis.url)
    finally:
        redis.close()
        server.stop()
    once = len(outcome.results) == args.scans == len(set(outcome.results))
    statuses = {s: sum(r["status"] == s for r in records) for s in ("done", "failed", "queued")}
    print(f"soak: {args.scans} scans, Redis restarted twice, one worker killed, on apache")
    for line in phases:
        print(f"    {line}")
    print(
        f"    all restored exactly once: {'yes' if once else 'NO'} ({len(outcome.results)} "
        f"results, {len(outcome.notes)} notes, {len(outcome.temp)} temporary files; jobs "
        f"{statuses}) in {elapsed:.0f} s ({args.scans / elapsed:.1f} scans/s)"
    )
    times = sorted(latency.times)
    if len(times) >= 20:
        q = statistics.quantiles(times, n=100)
        print(
            f"    GET /api/jobs during the run: {len(times)} answers, p50 {q[49] * 1000:.1f} ms "
            f"p95 {q[94] * 1000:.1f} ms p99 {q[98] * 1000:.1f} ms (goal p95 < 50 ms); "
            f"{latency.failures} failed while Redis was away"
        )
    print(f"    logs in {work}")


if __name__ == "__main__":
    main()
