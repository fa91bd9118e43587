"""Small modules with one concern: no source file over 400 lines, no function over 60.

Checked over everything we write in Python (the package, tests, benches, scripts), so a module
that grows past a sitting's reading fails here, not in a review.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
ROOTS = ("service", "tests", "bench", "scripts")


def sources() -> list[Path]:
    return sorted(p for root in ROOTS for p in (REPO / root).rglob("*.py"))


def test_no_module_is_longer_than_400_lines() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_longer_than_60_lines() -> None:
    long = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = lines
    assert long == {}


def test_the_check_sees_the_whole_tree() -> None:
    names = {p.relative_to(REPO).as_posix() for p in sources()}
    assert "service/runtime/worker.py" in names
    assert "tests/test_code_size.py" in names
    assert "scripts/screenshots.py" in names
