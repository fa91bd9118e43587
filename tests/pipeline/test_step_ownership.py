"""A step may write into the image it is given only when nothing but the run holds it: the
runner says so step by step (`OpContext.ownership`). A caller's image never changes; a step
that wrote into its image is 'done', not 'skipped', and its picture is shown as a step's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.config.catalog import load_catalog, parse_catalog
from service.pipeline import registry
from service.pipeline.ops._common import apply_luts
from service.pipeline.registry import OpContext
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext, RunResult

ROOT = Path(__file__).resolve().parents[2]
SEEN: list[tuple[str, bool]] = []


@pytest.fixture(autouse=True)
def _probe_ops() -> object:
    """Two test-only operations: one that records what it was told, one that inverts its image
    in place when it may (and into a copy when it may not)."""

    def told(image: Image.Image, ctx: OpContext, /, **_: object) -> Image.Image:
        SEEN.append(("told", ctx.ownership.granted))
        return image

    def invert(image: Image.Image, ctx: OpContext, /, **_: object) -> Image.Image:
        SEEN.append(("invert", ctx.ownership.granted))
        out = image if ctx.ownership.may_write(image) else image.copy()
        out.paste(Image.eval(out, lambda v: 255 - v))
        if out is image:
            ctx.ownership.wrote()
        return out

    added = {"test_told": told, "test_invert": invert}
    for name, func in added.items():
        registry.register(name, "test only")(func)
    SEEN.clear()
    yield
    for name in added:
        registry._OPS.pop(name)


CATALOG = """
[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.probe]
[[chains.probe.steps]]
op = "test_told"
[[chains.probe.steps]]
op = "test_invert"
[[chains.probe.steps]]
op = "test_told"
[[chains.probe.steps]]
op = "test_invert"
"""


def _run(image_list: list[Image.Image], chain_name: str = "probe") -> tuple[RunResult, list[int]]:
    """Run the chain on the image popped from `image_list` (the caller keeps no reference
    unless it holds one itself); also the step indexes shown as intermediates."""
    catalog = parse_catalog(CATALOG, Path("probe.toml")) if chain_name == "probe" else None
    chain = (catalog or load_catalog(ROOT / "service/config/models.toml")).chain(chain_name)
    shown: list[int] = []

    async def intermediate(index: int, image: Image.Image) -> None:
        shown.append(index)

    ctx = RunContext(op_context=OpContext(), intermediate=intermediate)
    runner = ChainRunner({"local": LocalExecutor()})
    return asyncio.run(runner.run(image_list.pop(), chain, ctx)), shown


def test_a_step_owns_an_image_nobody_else_holds_and_says_when_it_wrote_into_it() -> None:
    result, shown = _run([Image.new("L", (32, 32), 10)])  # the list alone holds it: handed over
    assert SEEN == [("told", True), ("invert", True), ("told", True), ("invert", True)]
    assert [s.status for s in result.steps] == ["skipped", "done", "skipped", "done"]
    assert shown == [1, 3]  # each written picture is shown, though the object is the same
    assert np.asarray(result.image).max() == 10  # inverted twice


def test_an_image_the_caller_holds_is_never_written_into() -> None:
    picture = Image.new("L", (32, 32), 10)
    result, _ = _run([picture])  # `picture` still names it here
    assert SEEN[:2] == [("told", False), ("invert", False)]
    assert np.array_equal(np.asarray(picture), np.full((32, 32), 10))
    assert result.image is not picture
    # The first inverted copy belongs to the run: the second inversion may write into it.
    assert SEEN[3] == ("invert", True)


def test_classic_leaves_the_callers_scan_untouched() -> None:
    picture = Image.new("RGB", (400, 300), (200, 190, 170))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((60, 50, 340, 250), fill=(120, 90, 70))
    draw.line((0, 150, 400, 160), fill=(246, 242, 232), width=3)  # a crack for the repair
    faded = Image.eval(picture, lambda v: 45 + v * 0.62)  # and a fade for the levels
    before = np.asarray(faded).copy()
    result, _ = _run([faded], "classic")
    assert np.array_equal(np.asarray(faded), before)
    assert "done" in {s.status for s in result.steps}


def test_luts_in_place_give_what_point_gives() -> None:
    rng = np.random.default_rng(3)
    for mode in ("L", "RGB", "RGBA"):
        bands = len(mode)
        a = rng.integers(0, 256, (300, 70, bands), dtype=np.uint8)
        image = Image.fromarray(a[..., 0] if bands == 1 else a, mode)
        luts = [np.arange(256) * 0.5 + 20, np.arange(256)[::-1], np.full(256, 7.0)]
        expected = apply_luts(image, luts)
        same = apply_luts(image, luts, in_place=True)
        assert same is image
        assert np.array_equal(np.asarray(same), np.asarray(expected))
