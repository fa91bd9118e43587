"""Before a chain runs, the dashboard says how many model calls it makes and what they cost:
a tiled step makes N² calls (the chain pickers read `/api/chains`, the Chains page shows it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.web.api_support import api_for

MODELS = """
[models.edit]
repo = "owner/edit"
price_usd = 0.03

[models.free]
repo = "owner/free"

[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.big]
[[chains.big.steps]]
model = "edit"
tiles = 3
[[chains.big.steps]]
op = "merge_detail"

[chains.unpriced]
[[chains.unpriced.steps]]
model = "free"
"""


async def test_the_catalog_and_the_chains_page_show_calls_and_cost_of_a_tiled_chain(
    rdb: redis.Redis, data_dir: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text(MODELS)
    async with api_for(data_dir, models_file=models, hf_token="hf_x") as api:
        chains = {c["name"]: c for c in (await api.client.get("/api/chains")).json()["chains"]}
        page = (await api.client.get("/chains")).text
    assert chains["big"]["calls"] == 9
    assert chains["big"]["cost_usd"] == pytest.approx(0.27)
    assert chains["big"]["steps"][0]["tiles"] == 3
    assert chains["big"]["steps"][0]["calls"] == 9
    assert (chains["unpriced"]["calls"], chains["unpriced"]["cost_usd"]) == (1, None)
    assert (chains["classic"]["calls"], chains["classic"]["cost_usd"]) == (0, None)
    assert "Each photo: 9 model calls, ≈ $0.270" in page
    assert "3×3 tiles (9 calls)" in page
    assert "Each photo: 1 model call<" in page
