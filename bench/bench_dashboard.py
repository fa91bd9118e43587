"""Jobs list with 10,000 jobs in history: server time per page as a ratio to an empty list.

Run: .venv/bin/python bench/bench_dashboard.py   (needs a Redis: BENCH_REDIS, default
redis://127.0.0.1:6379/4, a database it flushes). Server time is measured inside the ASGI
app, from the call to the last body byte, so the test client's own overhead is not counted.
Goal: ratio ≤ 2 for the pages served from the status indexes (all, a status, any offset).
"To review" has its own index; search reads the history in batches and is printed for
information.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from starlette.testclient import TestClient

from service.config.settings import Settings
from service.jobs.records import JobStore, _decode_shared
from service.queue import JobRecord
from service.web.app import create_app

# A database this bench may flush; point it at your own server beside another checkout's.
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/4")
MODELS = Path(__file__).resolve().parents[1] / "service" / "config" / "models.toml"


class Timed:
    """ASGI wrapper recording the server time of each HTTP request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        await self.app(scope, receive, send)
        self.times.append(time.perf_counter() - start)


def record(i: int) -> JobRecord:
    status = "done" if i % 10 < 7 else "failed" if i % 10 < 9 else "queued"
    steps = [
        {
            "index": k,
            "name": f"op{k}",
            "kind": "local",
            "label": f"op{k}",
            "status": "done",
            "started_at": 0.0,
            "duration": 0.12,
            "provider": None,
            "model": None,
            "retries": 0,
            "cost_usd": None,
            "note": "",
        }
        for k in range(8)
    ]
    return JobRecord(
        id=f"job{i:06d}",
        source=f"/Family/to-restore/album/scan-{i:05d}.jpg",
        output=f"/Family/restored/album/scan-{i:05d}.jpg",
        chain="classic",
        status=status,
        created=1_700_000_000 + i,
        steps=steps,
        error="not an image" if status == "failed" else None,
        decision="approved" if status == "done" and i % 3 == 0 else None,
    )


async def fill(n: int) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    store = JobStore(client)
    for start in range(0, n, 500):
        await asyncio.gather(*(store.create(record(i)) for i in range(start, min(n, start + 500))))
    await client.aclose()


def measure(
    client: TestClient, timed: Timed, url: str, rounds: int, *, cold: bool = False
) -> float:
    """Median server seconds for `url` (after two warm-up calls); `cold` empties the store's
    decoded-record cache before each call, as for a page whose jobs all just changed."""
    for _ in range(2):
        client.get(url).raise_for_status()
    timed.times.clear()
    for _ in range(rounds):
        if cold:
            _decode_shared.cache_clear()
        client.get(url).raise_for_status()
    return statistics.median(timed.times)


def run(n: int, rounds: int) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    settings = Settings(
        _env_file=None,
        data_dir=data,
        models_file=MODELS,  # type: ignore[call-arg]
        default_chain="classic",
        dashboard_password=None,
    )
    timed = Timed(create_app(settings, redis_url=REDIS_URL))
    sync = redis.Redis.from_url(REDIS_URL)
    sync.flushdb()
    pages = {
        "first page": "/api/jobs?limit=50",
        "failed": "/api/jobs?status=failed&limit=50",
        "deep page": f"/api/jobs?limit=50&offset={max(0, n - 50)}",
    }
    info = {
        "to review": "/api/jobs?status=review&limit=50",
        "search (walks history)": "/api/jobs?q=scan-0999&limit=50",
    }
    with TestClient(timed) as client:
        empty = {k: measure(client, timed, u, rounds) for k, u in {**pages, **info}.items()}
        asyncio.run(fill(50))
        small = measure(client, timed, pages["first page"], rounds)
        sync.flushdb()
        asyncio.run(fill(n))
        full = {k: measure(client, timed, u, rounds) for k, u in {**pages, **info}.items()}
        cold = measure(client, timed, pages["first page"], rounds, cold=True)
    sync.flushdb()
    sync.close()
    print(f"jobs list, {n} jobs in history vs empty (median server time of {rounds} calls)")
    for k in {**pages, **info}:
        goal = "  (goal ≤ 2)" if k in pages else "  (information)"
        print(
            f"  {k:28s} empty {empty[k] * 1000:7.2f} ms   full {full[k] * 1000:7.2f} ms"
            f"   ratio {full[k] / empty[k]:5.2f}{goal}"
        )
    print(
        f"  first page with only 50 jobs in history: {small * 1000:.2f} ms -> the history's "
        f"size costs x{full['first page'] / small:.2f}; the rest is decoding 50 rows"
    )
    print(
        f"  first page, every row decoded afresh: {cold * 1000:.2f} ms, ratio "
        f"{cold / empty['first page']:.2f} (the worst case: all 50 jobs changed since last look)"
    )
    ratio = full["first page"] / empty["first page"]
    print(f"ratio {ratio:.2f}")
    return {k: full[k] / empty[k] for k in full}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    run(args.jobs, args.rounds)
