"""Fault tests: the real service (subprocesses), a Redis of each test's own, real WebDAV
servers, and the fake HF router whose answers take as long as a test needs a job to last.

Each test prints how long the service took to recover; the lines are gathered and shown at
the end of the run (they are measurements, never assertions).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakerouter import FakeRouter
from tests.faults.harness import OwnRedis, open_dirs
from tests.servers import DavServer, start_apache, start_wsgidav

RECOVERY: list[str] = []


@pytest.fixture
def recovered() -> Iterator[list[str]]:
    """Where a test writes its "time to recover" line."""
    lines: list[str] = []
    yield lines
    RECOVERY.extend(lines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RECOVERY:
        terminalreporter.section("fault tests: time to recover (measured, not asserted)")
        for line in RECOVERY:
            terminalreporter.write_line(line)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    redis.start()
    yield redis
    redis.close()


@pytest.fixture(scope="module")
def wsgidav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    server = start_wsgidav(tmp_path_factory.mktemp("dav"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def apache() -> Iterator[DavServer]:
    server = start_apache()
    yield server
    server.stop()


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    with FakeRouter(delay=2.0) as fake:
        yield fake


@pytest.fixture
def top(wsgidav: DavServer) -> Path:
    """A fresh WATCH_ROOT on the WebDAV server, with its inbox."""
    folder = wsgidav.root / f"f-{uuid.uuid4().hex[:8]}"
    open_dirs(folder / "Family" / "to-restore", wsgidav.root)
    return folder
