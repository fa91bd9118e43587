"""Shared by the deployment tests: where the chart and the deploy tools are, and the call
into `.venv-deploy` that lints, renders and schema-checks the chart.

The tools live in `.venv-deploy` (made by `scripts/setup-deploy-tools`). On a laptop without
them the tests skip with the command to run; under CI (`CI` set) a missing tool is a failure,
so a broken setup step can never turn into a green run that checked nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "photo-restore"
DEPLOY_VENV = Path(os.environ.get("DEPLOY_VENV", ROOT / ".venv-deploy"))
RELEASE = "demo"
NAMESPACE = "photos"
# The oldest Kubernetes the chart claims (Chart.yaml kubeVersion) and the newest schemas shipped.
KUBE_VERSIONS = ["1.25.0", "1.37.0"]


def require_tool(path: Path) -> Path:
    """Return the tool, or fail under CI / skip elsewhere with the command that installs it."""
    if path.exists():
        return path
    message = f"{path} is missing: run scripts/setup-deploy-tools"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable; keeps type checkers honest


def run_helm_cases(deploy_python: Path, cases: dict[str, Any]) -> dict[str, Any]:
    """Lint, render and schema-check every case in one subprocess (the Go runtime starts once)."""
    request = {
        "chart": str(CHART),
        "release": RELEASE,
        "namespace": NAMESPACE,
        "kube_versions": KUBE_VERSIONS,
        "cases": cases,
    }
    proc = subprocess.run(
        [str(deploy_python), str(Path(__file__).with_name("helm_tool.py"))],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        pytest.fail(f"helm_tool.py exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)
