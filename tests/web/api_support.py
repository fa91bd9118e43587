"""The real app on a real Redis, reached in-process over httpx (no browser, no server), signed
in through the login form, with the test's own `Services` so jobs can be run to their end."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.jobs.task import run_restore
from service.queue import JobRecord
from service.runtime.services import Services
from service.web.app import create_app
from tests.web.conftest import BASE
from tests.web.live import PASSWORD, REDIS_URL, make_settings, scan_bytes


@dataclass
class Api:
    """A signed-in API client of the app and the services behind it."""

    client: httpx.AsyncClient
    token: str
    services: Services

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        """A state-changing call with the session's CSRF token."""
        return await self.client.post(path, json=body, headers={"x-csrf-token": self.token})

    async def job(self, job_id: str) -> dict[str, Any]:
        """The job as the API shows it."""
        r = await self.client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def upload(self, name: str, data: bytes | None = None) -> str:
        """Put a scan into /Family/to-restore through the API; returns its job id."""
        r = await self.client.post(
            "/api/files/upload",
            data={"folder": "/Family/to-restore"},
            files={"file": (name, scan_bytes() if data is None else data, "image/jpeg")},
            headers={"x-csrf-token": self.token},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["results"][0]["job"])

    async def run(self, job_id: str) -> JobRecord:
        """Run a queued job to its end, as a worker would."""
        record = await run_restore(self.services, job_id)
        assert record is not None
        return record


async def _sign_in(client: httpx.AsyncClient) -> str:
    html = (await client.get("/login")).text
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert form_token is not None
    r = await client.post(
        "/login", data={"password": PASSWORD, "csrf_token": form_token.group(1), "next": "/"}
    )
    assert r.status_code == 303, r.text
    page = (await client.get("/")).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    return token.group(1)


@asynccontextmanager
async def api_for(data_dir: Path, **overrides: Any) -> AsyncIterator[Api]:
    """The app with its lifespan running, and a signed-in client of it (on the Redis of
    `redis_url=` when given: a test's own server)."""
    settings = make_settings(data_dir, **overrides)
    services = await Services.open(settings, settings.redis_url or REDIS_URL)
    app = create_app(settings, services=services)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
        ):
            yield Api(client, await _sign_in(client), services)
    finally:
        await services.aclose()
