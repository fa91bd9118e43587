"""Memory in a whole restore: nothing but the model step's hand-off holds the decoded scan, so
the merge writes its result into the scan's own memory; with a keep-original mask painted the
original must outlive the chain, and the merge writes a copy (the same picture either way)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.config.catalog import parse_catalog
from service.config.settings import Settings
from service.inference.client import InferenceResult
from service.inference.images import ImagePayload
from service.pipeline import registry
from service.pipeline.cache import StepCache
from service.pipeline.remote import RemoteExecutor
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor
from tests.pipeline.fullres_support import aged, astronaut

CATALOG = """
[models.edit]
repo = "owner/edit"
max_pixels = 60_000

[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.fullres]
[[chains.fullres.steps]]
model = "edit"
[[chains.fullres.steps]]
op = "merge_detail"
"""


class Perfect:
    """A model that restores perfectly at the size it is sent: the clean picture at that size."""

    def __init__(self, clean: Image.Image) -> None:
        self.clean = clean

    def can_run(self, spec: Any) -> bool:
        return True

    async def image_to_image(
        self, spec: Any, image: ImagePayload, parameters: Any
    ) -> InferenceResult:
        with Image.open(io.BytesIO(image.data)) as sent:
            size = sent.size
        buf = io.BytesIO()
        self.clean.resize(size, Image.Resampling.LANCZOS).save(buf, "PNG")
        return InferenceResult(data=buf.getvalue(), provider="fake", provider_id="fake/edit")


def keep_left_quarter(size: tuple[int, int]) -> dict[str, Any]:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((0, 0, size[0] // 4, size[1]), fill=255)
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"op": "keep_original", "params": {"mask": url, "feather": 0}}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Any, ChainRunner]:
    clean = astronaut(900)
    src = tmp_path / "scan.png"
    aged(clean).save(src)
    catalog = parse_catalog(CATALOG, Path("models.toml"), local_ops=registry.names())
    cache = StepCache(tmp_path / "cache", 2**24, None)
    remote = RemoteExecutor(catalog, Perfect(clean), cache)  # type: ignore[arg-type]
    return src, catalog.chains["fullres"], ChainRunner({"local": LocalExecutor(), "remote": remote})


async def test_the_merge_writes_into_the_scans_memory_unless_a_mask_keeps_the_original(
    setup: tuple[Path, Any, ChainRunner], tmp_path: Path
) -> None:
    src, chain, runner = setup
    settings = Settings(data_dir=tmp_path)
    plain = await restore_image(src, chain, runner, settings, before_edge=320)
    merge = plain.run.steps[-1]
    assert merge.name == "merge_detail"
    assert merge.measurements["in_place"] is True
    assert plain.aligned_before is not None  # the small "before" does not hold the scan

    kept = await restore_image(src, chain, runner, settings, edits=[keep_left_quarter((90, 90))])
    merge = kept.run.steps[-2]
    assert merge.name == "merge_detail"
    assert merge.measurements["in_place"] is False
    assert kept.run.steps[-1].status == "done"  # the original came back inside the mask
    a, b = np.asarray(plain.run.image), np.asarray(kept.run.image)
    edge = a.shape[1] // 4  # where the mask ends (a 90-px mask stretched: to within 4 %)
    assert np.array_equal(a[:, edge + 40 :], b[:, edge + 40 :])  # the same merge elsewhere
    assert not np.array_equal(a[:, : edge - 40], b[:, : edge - 40])
