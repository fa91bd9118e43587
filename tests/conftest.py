"""Fixtures shared by every test folder: free ports, small images, a clean environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import catalog as catalog_module
from tests.servers import DavServer, FaultProxy

# Settings come from the environment and ./.env: tests must not inherit a developer's.
_SETTING_NAMES = (
    "OWNCLOUD_URL",
    "OWNCLOUD_USER",
    "OWNCLOUD_PASSWORD",
    "OWNCLOUD_DAV_PATH",
    "WATCH_ROOT",
    "INBOX_NAME",
    "OUTPUT_NAME",
    "POLL_INTERVAL",
    "DATA_DIR",
    "REDIS_URL",
    "HF_TOKEN",
    "HF_ROUTER_URL",
    "HF_ENDPOINT",
    "MODELS_FILE",
    "DEFAULT_CHAIN",
    "WEBHOOK_SECRET",
    "DASHBOARD_PASSWORD",
    "AUTH_HEADER",
    "TRUSTED_PROXIES",
    "MAX_PIXELS",
    "MAX_FILE_MB",
    "SESSION_SECRET",
    "HOST",
    "PORT",
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    # huggingface_hub's token discovery must not find a developer's token either.
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    monkeypatch.setenv("MODELS_FILE", str(REPO / "models.toml"))


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def proxy(server: DavServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the test's `server` (a fixture of its folder)."""
    p = FaultProxy(server.url)
    yield p
    p.stop()


@pytest.fixture
def catalog_parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every parse of a models.toml from now on, by path."""
    seen: list[Path] = []
    real = catalog_module.parse_catalog

    def counting(text: str, path: Path, **kw: Any) -> catalog_module.Catalog:
        seen.append(path)
        return real(text, path, **kw)

    monkeypatch.setattr(catalog_module, "parse_catalog", counting)
    return seen


@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    """Run in a fresh working folder (no stray .env)."""
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)
