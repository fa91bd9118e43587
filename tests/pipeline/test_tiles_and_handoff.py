"""Tiled model steps, the scan handed from a model step to the merge, and what steps report
into the run's timeline."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from service.config import costs
from service.config.catalog import Chain, Step, parse_catalog
from service.errors import ConfigError
from service.inference.client import InferenceResult
from service.inference.images import ImagePayload
from service.pipeline import findings, handoff, registry, tiling
from service.pipeline.cache import StepCache
from service.pipeline.registry import OpContext
from service.pipeline.remote import RemoteExecutor
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext
from tests.images import photo as smooth_photo
from tests.pipeline.fullres_support import aged, astronaut

CATALOG = """
[models.edit]
repo = "owner/edit"
price_usd = 0.02
max_pixels = 40_000

[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.tiled]
[[chains.tiled.steps]]
model = "edit"
tiles = 2
[[chains.tiled.steps]]
op = "merge_detail"
"""


class StandIn:
    """A model that answers with what it was sent, each call a little brighter than the last
    (models render each call's tone a little differently)."""

    def __init__(self) -> None:
        self.calls = 0

    def can_run(self, spec: Any) -> bool:
        return True

    async def image_to_image(
        self, spec: Any, image: ImagePayload, parameters: Any
    ) -> InferenceResult:
        self.calls += 1
        sent = np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB"), np.int16)
        out = Image.fromarray(np.clip(sent + 6 * self.calls, 0, 255).astype(np.uint8))
        buf = io.BytesIO()
        out.save(buf, "PNG")
        return InferenceResult(data=buf.getvalue(), provider="fake", provider_id="fake/edit")


@pytest.fixture
def catalog() -> Any:
    return parse_catalog(CATALOG, Path("models.toml"), local_ops=registry.names())


def executor(catalog: Any, tmp_path: Path) -> tuple[RemoteExecutor, StandIn]:
    model = StandIn()
    return RemoteExecutor(catalog, model, StepCache(tmp_path, 2**24, None)), model  # type: ignore[arg-type]


def test_the_grid_covers_the_picture_with_overlapping_tiles() -> None:
    tiles = tiling.grid((1000, 600), 3)
    assert len(tiles) == 9
    cover = np.zeros((600, 1000), np.int8)
    for t in tiles:
        x0, y0, x1, y1 = t.box
        cover[y0:y1, x0:x1] += 1
    assert cover.min() == 1
    assert cover.max() == 4
    with pytest.raises(ValueError, match="tiles must be between"):
        tiling.grid((100, 100), 5)


async def test_a_tiled_step_makes_one_call_per_tile_and_blends_without_seams(
    catalog: Any, tmp_path: Path
) -> None:
    scan = smooth_photo(768, 768)  # smooth: any step in tone at a seam would show
    remote, model = executor(catalog, tmp_path)
    ctx = RunContext(op_context=OpContext(original_size=scan.size))
    with findings.collecting():
        outcome = await remote.run(scan, catalog.chains["tiled"].steps[0], ctx)
    assert model.calls == 4
    assert outcome.cost_usd == pytest.approx(0.08)
    assert outcome.image.width > 300  # four calls of 200 px each: twice one call's resolution
    # The tiles came back 6, 12, 18, 24 levels brighter; blended, the offset varies smoothly.
    small = scan.resize(outcome.image.size, Image.Resampling.LANCZOS)
    err = np.asarray(outcome.image, np.float32).mean(axis=2) - np.asarray(small, np.float32).mean(
        axis=2
    )
    h, w = err.shape

    def steps(a: np.ndarray, centre: int) -> float:
        """The largest tone step between neighbouring 3-column bands within ±10 % of `centre`."""
        reach = a.shape[1] // 10
        cols = a.reshape(a.shape[0], -1)
        found = []
        for b in range(centre - reach, centre + reach):
            found.append(np.median(np.abs(cols[:, b : b + 3].mean(1) - cols[:, b - 3 : b].mean(1))))
        return float(max(found))

    # Across the seams (and the overlaps around them) the tone steps no more than it does
    # inside a tile, although the calls came back 6 levels apart.
    assert steps(err, w // 2) < steps(err, w // 4) + 0.5
    assert steps(err.T, h // 2) < steps(err.T, h // 4) + 0.5
    assert abs(float(np.median(err)) - 15) < 4  # the calls' mean tone, kept
    # The scan as the model got it is left for the merge.
    left = ctx.op_context.extra[handoff.BEFORE_MODEL]
    assert left.scan is scan
    assert left.calls == 4


async def test_a_tiled_chain_runs_to_the_scans_size_and_records_the_tiles(
    catalog: Any, tmp_path: Path
) -> None:
    scan = aged(astronaut(768))
    remote, _ = executor(catalog, tmp_path)
    runner = ChainRunner({"local": LocalExecutor(), "remote": remote})
    ctx = RunContext(op_context=OpContext(original_size=scan.size))
    run = await runner.run(scan, catalog.chains["tiled"], ctx)
    assert run.image.size == scan.size
    model_step, merge_step = run.steps
    assert model_step.measurements["tiles"]["calls"] == 4
    assert merge_step.measurements["drift"]["kind"] == "small"
    assert handoff.BEFORE_MODEL not in ctx.op_context.extra  # the merge took the scan


def test_tiles_are_checked_in_models_toml() -> None:
    for bad, expected in (("tiles = 9", "1 to 4"), ("tiles = 1.5", "whole number")):
        text = CATALOG.replace("tiles = 2", bad)
        with pytest.raises(ConfigError, match=expected):
            parse_catalog(text, Path("models.toml"))
    local = CATALOG.replace('op = "auto_orient"', 'op = "auto_orient"\ntiles = 2')
    with pytest.raises(ConfigError, match="only on a model step"):
        parse_catalog(local, Path("models.toml"))


def test_a_chain_knows_its_calls_and_cost(catalog: Any) -> None:
    chain = catalog.chains["tiled"]
    assert costs.calls(chain) == 4
    assert costs.cost_usd(catalog, chain) == pytest.approx(0.08)
    assert costs.cost_usd(catalog, catalog.chains["classic"]) is None


def reporting(image: Image.Image, ctx: OpContext, /, **_: Any) -> Image.Image:
    findings.measure("answer", 42)
    findings.ask_review("something to look at")
    return image


async def test_what_a_step_reports_lands_in_its_record_and_the_scan_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info = registry.OpInfo("reporting", reporting, "reports")
    monkeypatch.setitem(registry._OPS, "reporting", info)
    chain = Chain("c", "c", "", (Step("local", "reporting"),))
    ctx = RunContext(op_context=OpContext())
    handoff.leave(ctx.op_context, Image.new("RGB", (8, 8)), "m")
    run = await ChainRunner({"local": LocalExecutor()}).run(Image.new("RGB", (8, 8)), chain, ctx)
    (rec,) = run.steps
    assert rec.review == ["something to look at"]
    assert rec.measurements == {"answer": 42}
    assert rec.to_dict()["review"] == ["something to look at"]
    assert run.review == ["local:reporting: something to look at"]
    assert handoff.BEFORE_MODEL not in ctx.op_context.extra  # no full-size copy outlives a run
