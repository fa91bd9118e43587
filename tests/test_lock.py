"""The lock (issue 13, item 19): constraints.txt pins every dependency, and the image and the
test script install with it, so neither gets whatever is newest on build day."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            out[_name(name)] = version
    return out


def test_every_dependency_and_test_extra_is_pinned_exactly() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    locked = pins()
    assert [r for r in wanted if _name(r) not in locked] == []


def test_the_image_and_the_test_script_install_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml constraints.txt" in dockerfile
    assert re.search(r"pip install -r /tmp/requirements.txt -c constraints.txt", dockerfile)
    assert "-c constraints.txt -e '.[test]'" in (ROOT / "scripts/test").read_text()
    assert "constraints.txt" not in (ROOT / ".dockerignore").read_text()


def test_the_tests_run_on_the_locked_versions() -> None:
    locked = pins()
    for name in ("starlette", "pillow", "httpx", "uvicorn", "pydantic", "simplejpeg", "lxml"):
        assert metadata.version(name) == locked[name], name
