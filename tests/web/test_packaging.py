"""webui/ ships inside the wheel, and a non-editable install serves the same dashboard."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import redis

from tests.redis_test import redis_url

ROOT = Path(__file__).resolve().parents[2]

SERVE_FROM_INSTALL = r"""
import re, sys, service, webui
from pathlib import Path
from starlette.testclient import TestClient
from service.config.settings import Settings
from service.web.app import create_app
target = Path(sys.argv[1])
assert Path(service.__file__).is_relative_to(target), service.__file__
assert Path(webui.__file__).is_relative_to(target), webui.__file__
settings = Settings(_env_file=None, data_dir=sys.argv[2], default_chain="classic")
with TestClient(create_app(settings, redis_url=sys.argv[3])) as c:
    page = c.get("/")
    assert page.status_code == 200 and 'id="job-rows"' in page.text, page.text[:300]
    for name in ("common.js", "jobs.js", "review.js", "compare.js", "editor.js", "app.css"):
        assert c.get("/static/" + name).status_code == 200, name
print("served from", webui.__file__)
"""


@pytest.mark.slow
def test_wheel_contains_webui_and_an_installed_copy_serves_the_dashboard(
    tmp_path: Path, rdb: redis.Redis
) -> None:
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(out)],
        check=True,
        timeout=110,
    )
    wheel = next(out.glob("photo_restore-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "webui").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped <= names, sorted(shipped - names)
    assert {"webui/templates/review.html", "webui/static/review.js"} <= names

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=110,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    (tmp_path / "data").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE_FROM_INSTALL,
            str(target),
            str(tmp_path / "data"),
            redis_url(4),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(target) in result.stdout
