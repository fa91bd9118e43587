"""Fixtures for the dashboard tests: a real Redis (DB 4), a local DATA_DIR, the real app served
by uvicorn with an arq worker and the watcher in the same background loop (tests/web/live.py),
and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from service.web.app import create_app
from tests.web.live import (
    CHROMIUM_ARGS,
    PASSWORD,
    REDIS_URL,
    LiveServer,
    make_settings,
)


@pytest.fixture
def rdb() -> Iterator[redis.Redis]:
    """DB 4 of the local Redis, empty at the start of every test."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """DATA_DIR with one inbox, /Family/to-restore."""
    root = tmp_path / "data"
    (root / "Family" / "to-restore").mkdir(parents=True)
    return root


@pytest.fixture
def live_factory(rdb: redis.Redis, data_dir: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers with settings overrides; all are stopped at the end."""
    started: list[LiveServer] = []

    def start(*, worker: bool = True, **overrides: Any) -> LiveServer:
        server = LiveServer(make_settings(data_dir, **overrides), worker=worker).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """The app with a worker and the watcher, password sign-in."""
    return live_factory()


# -- the app in-process, signed in -----------------------------------------------------
BASE = "http://127.0.0.1:8000"  # what TestClient and the in-process API client call


PROXY = ("10.0.0.2", 41000)  # a reverse proxy's address, trusted with TRUSTED_PROXIES
STRANGER = ("198.51.100.7", 52000)  # anyone else on the network (TEST-NET-2)


def client_for(
    data_dir: Path, *, peer: tuple[str, int] = ("testclient", 50000), **overrides: Any
) -> TestClient:
    """The app in-process; `peer` is the address the request seems to come from."""
    return TestClient(
        create_app(make_settings(data_dir, **overrides), redis_url=REDIS_URL),
        base_url=BASE,
        client=peer,
    )


@pytest.fixture
def anon(rdb: redis.Redis, data_dir: Path) -> Iterator[TestClient]:
    """A client of the password-protected app, not signed in."""
    with client_for(data_dir) as client:
        yield client


def page_token(client: TestClient, path: str = "/") -> str:
    html = client.get(path).text
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]


@pytest.fixture
def signed_in(anon: TestClient) -> tuple[TestClient, str]:
    """Signed in through the form; returns the client and its CSRF token."""
    html = anon.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    r = anon.post(
        "/login",
        data={"password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return anon, page_token(anon)


# -- browser ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, launched once per module (never a downloaded browser).

    Module scope, not session: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break every asyncio test collected after it.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is not installed (scripts/test installs it)")
        pytest.skip("Debian chromium is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; JS errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(20_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
