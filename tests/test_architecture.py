"""The package graph: every import between `service` packages is one the architecture allows.

The allowed imports are the table in docs/architecture.md, read here, so the document and the
code cannot drift apart. Lazy imports inside functions count like any other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "service"
INNER = {"pipeline", "storage", "inference"}
OUTER = {"web", "jobs", "watch", "commands", "runtime", "cli"}


def node_of(path: Path) -> str:
    """The package (or top-level module) a source file belongs to: service/web/app.py → web."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    return "service" if rel == ("__init__",) else rel[0]


def imported_nodes(path: Path) -> set[str]:
    """The service packages that `path` imports, wherever in the file the import stands."""
    found: set[str] = set()
    for stmt in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(stmt, ast.ImportFrom) and stmt.level:
            raise AssertionError(f"{path}: relative import; name the module in full")
        if isinstance(stmt, ast.ImportFrom) and stmt.module:
            names = [stmt.module, *(f"{stmt.module}.{a.name}" for a in stmt.names)]
        elif isinstance(stmt, ast.Import):
            names = [a.name for a in stmt.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "service" and len(parts) > 1 and parts[1] != "__version__":
                found.add(parts[1])
    return found


def package_graph() -> dict[str, set[str]]:
    """Edges between packages, self-edges left out."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        node = node_of(path)
        graph.setdefault(node, set()).update(imported_nodes(path) - {node})
    return graph


def architecture() -> tuple[set[str], dict[str, set[str]]]:
    """The leaf modules and the 'Who may import whom' table of docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Who may import whom", 1)[1].split("\n## ", 1)[0]
    paragraph = section.split("Leaf modules", 1)[1].split("\n\n", 1)[0]
    leaves = set(re.findall(r"`(\w+)`", paragraph.split(":", 1)[1]))
    table: dict[str, set[str]] = {}
    for row in re.finditer(r"^\| `(\w+)` \|([^|]*)\|$", section, re.MULTILINE):
        table[row.group(1)] = {n.strip() for n in row.group(2).split(",") if n.strip()}
    return leaves, table


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_cycle_between_service_packages() -> None:
    assert cycles(package_graph()) == []


def test_inner_packages_import_nothing_outer() -> None:
    graph = package_graph()
    leaks = {p: sorted(graph.get(p, set()) & OUTER) for p in sorted(INNER)}
    assert leaks == {p: [] for p in sorted(INNER)}


def test_leaf_modules_import_nothing_of_the_service_but_each_other() -> None:
    leaves, _table = architecture()
    graph = package_graph()
    imports = {leaf: sorted(graph.get(leaf, set()) - leaves) for leaf in sorted(leaves)}
    assert imports == {leaf: [] for leaf in sorted(leaves)}


def test_every_import_between_packages_is_one_the_architecture_allows() -> None:
    leaves, allowed = architecture()
    graph = package_graph()
    assert set(graph) - {"service"} <= set(allowed) | leaves, "a package missing from the table"
    forbidden = {
        node: sorted(targets - allowed.get(node, set()) - leaves)
        for node, targets in graph.items()
        if node not in leaves and targets - allowed.get(node, set()) - leaves
    }
    assert forbidden == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
