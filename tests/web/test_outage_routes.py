"""The web side of our own outages: a Redis that refuses writes (MISCONF, as after a snapshot
failed on a full disk) makes `POST /api/jobs/retry` answer 503, never 500; and `/healthz` goes
red only for a process whose worker has not reached Redis for a while."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.queue import JobRequest
from service.web.health import LIVENESS_GRACE
from tests.faults.harness import OwnRedis
from tests.web.api_support import api_for


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.close()


def refuse_writes(url: str) -> None:
    """Make the Redis refuse every write, as Redis does when its snapshot cannot be saved."""
    client = redis.Redis.from_url(url)
    client.config_set("stop-writes-on-bgsave-error", "yes")
    client.config_set("dir", "/proc")  # no snapshot can be written there
    client.bgsave()
    for _ in range(100):
        if client.info("persistence")["rdb_last_bgsave_status"] == "err":
            break
        time.sleep(0.05)
    client.close()


async def test_retry_on_a_redis_that_refuses_writes_is_503_not_500(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    async with api_for(tmp_path / "data", redis_url=own_redis.url) as api:
        record = await api.services.queue.submit(
            JobRequest(
                source="/F/to-restore/a.jpg",
                output="/F/restored/a.jpg",
                chain="classic",
                identity="a",
                version="1",
            )
        )
        assert record is not None
        await api.services.store.update(record.id, status="failed", error="503 from fal-ai")
        refuse_writes(own_redis.url)
        r = await api.post("/api/jobs/retry", {})
        assert r.status_code == 503, r.text
        assert "Redis refuses writes" in r.json()["error"]
        assert (await api.client.get("/api/jobs")).status_code == 200  # reading still works


async def test_liveness_fails_only_for_a_worker_that_cannot_reach_redis(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    async with api_for(tmp_path / "data", redis_url=own_redis.url) as api:
        services, client = api.services, api.client
        services.trouble.failing("Redis unreachable: ConnectionError")
        services.trouble.since = time.monotonic() - LIVENESS_GRACE - 1  # away that long
        assert (await client.get("/healthz")).status_code == 200  # web only: stay up
        services.hosts_worker = True
        r = await client.get("/healthz")
        assert r.status_code == 503
        assert "unreachable" in r.json()["redis"]
        services.trouble.ok()
        assert (await client.get("/healthz")).status_code == 200
