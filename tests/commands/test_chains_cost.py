"""`photo-restore chains` shows how many model calls a chain makes and what they cost."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import run

MODELS = """
[models.edit]
repo = "owner/edit"
price_usd = 0.03

[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.big]
[[chains.big.steps]]
model = "edit"
tiles = 3
[[chains.big.steps]]
op = "merge_detail"
"""


def test_chains_shows_the_calls_and_cost_of_a_tiled_chain(tmp_path: Path) -> None:
    (tmp_path / "models.toml").write_text(MODELS)
    done = run("chains", cwd=tmp_path, COLUMNS="220", MODELS_FILE=str(tmp_path / "models.toml"))
    assert done.returncode == 0, done.stderr
    line = next(row for row in done.stdout.splitlines() if row.strip("│ ").startswith("big"))
    assert "3×3 tiles" in line
    assert "9 · ≈ $0.27" in line
