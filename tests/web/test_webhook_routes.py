"""Webhook routes on the real app and a real Redis: secret first, then paths, then a look."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from service.config.settings import Settings
from service.constants import QUEUE_NAME, WATCH_TRIGGER_KEY
from service.runtime.services import Services
from service.web.app import create_app
from tests.redis_test import redis_url

REDIS = redis_url(1)
SECRET = "s3cret-webhook-value"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Redis]]:
    redis = Redis.from_url(REDIS)
    await redis.flushdb()
    settings = Settings(data_dir=tmp_path, webhook_secret=SECRET)  # type: ignore[arg-type]
    services = await Services.open(settings, REDIS)
    app = create_app(settings, services=services)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c, redis
    await services.aclose()
    await redis.flushdb()
    await redis.aclose()


def nextcloud(path: str, cls: str = "NodeCreatedEvent") -> dict:
    return {
        "event": {"class": f"OCP\\Files\\Events\\Node\\{cls}", "node": {"id": 42, "path": path}},
        "user": {"uid": "alice", "displayName": "Alice"},
        "time": 1700000000,
    }


@pytest.mark.parametrize(
    "headers", [{}, {"X-Webhook-Secret": "wrong"}, {"Authorization": "Bearer nope"}]
)
async def test_missing_or_wrong_secret_is_401_and_enqueues_nothing(client, headers) -> None:
    c, redis = client
    for route, body in (
        ("/webhooks/nextcloud", nextcloud("/alice/files/F/to-restore/a.jpg")),
        ("/webhooks/files", {"path": "/F/to-restore/a.jpg"}),
    ):
        r = await c.post(route, json=body, headers=headers)
        assert r.status_code == 401
    assert await redis.llen(WATCH_TRIGGER_KEY) == 0
    assert await redis.zcard(QUEUE_NAME) == 0


async def test_nextcloud_event_triggers_a_look_at_its_folder(client) -> None:
    c, redis = client
    r = await c.post(
        "/webhooks/nextcloud",
        json=nextcloud("/alice/files/Family/to-restore/sub/a b.jpg"),
        headers={"X-Webhook-Secret": SECRET},
    )
    assert r.status_code == 202
    assert r.json()["folders"] == ["/Family/to-restore/sub"]
    assert await redis.lrange(WATCH_TRIGGER_KEY, 0, -1) == [b"/Family/to-restore/sub"]


async def test_generic_event_with_bearer_secret(client) -> None:
    c, redis = client
    r = await c.post(
        "/webhooks/files",
        json={"path": "/F/to-restore/x.jpg", "event": "created"},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert r.status_code == 202
    assert await redis.llen(WATCH_TRIGGER_KEY) == 1


@pytest.mark.parametrize(
    "path", ["/F/photos/x.jpg", "/F/to-restore/../../etc/passwd", "/F/restored/x.jpg"]
)
async def test_paths_outside_inboxes_or_with_dotdot_are_ignored(client, path: str) -> None:
    c, redis = client
    r = await c.post("/webhooks/files", json={"path": path}, headers={"X-Webhook-Secret": SECRET})
    assert r.status_code == 202
    assert r.json()["status"] == "ignored"
    assert await redis.llen(WATCH_TRIGGER_KEY) == 0


async def test_garbage_body_is_400(client) -> None:
    c, _ = client
    r = await c.post("/webhooks/files", content=b"{not json", headers={"X-Webhook-Secret": SECRET})
    assert r.status_code == 400


async def test_webhooks_are_refused_when_no_secret_is_configured(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    services = await Services.open(settings, REDIS)
    app = create_app(settings, services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        app.state.services = services
        r = await c.post(
            "/webhooks/files",
            json={"path": "/F/to-restore/x.jpg"},
            headers={"X-Webhook-Secret": ""},
        )
        assert r.status_code == 401
    await services.aclose()
