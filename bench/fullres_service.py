"""The merge inside a whole restore, as the worker runs it (`pipeline.restore.restore_image`,
before-preview and all): decode → a model step (a stand-in answering with a fixed picture,
no network) → `merge_detail` → encode, with and without a keep-original mask painted.

Without a mask nothing but the model step's hand-off holds the decoded scan, so the merge
writes into the scan's own memory; a mask keeps the original alive and the merge writes a copy.
Used by `fullres_cost.py` in a subprocess of its own; reports the merge step's time and whether
it wrote in place.
"""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from service.config.catalog import parse_catalog
from service.config.settings import Settings
from service.inference.client import InferenceResult
from service.pipeline import registry
from service.pipeline.cache import StepCache
from service.pipeline.remote import RemoteExecutor
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor

CATALOG = """
[models.edit]
repo = "stand-in/edit"
max_pixels = 1_048_576

[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.restore]
[[chains.restore.steps]]
model = "edit"
[[chains.restore.steps]]
op = "merge_detail"
"""
PREVIEW_EDGE = 1280  # the worker's (jobs.previews): the aligned "before" is made as it would be


class StandIn:
    """Answers every call with the same picture (the perfect answer made beforehand)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer

    def can_run(self, spec: Any) -> bool:
        return True

    async def image_to_image(self, spec: Any, image: Any, parameters: Any) -> InferenceResult:
        return InferenceResult(data=self.answer, provider="stand-in", provider_id="stand-in")


def keep_mask() -> dict[str, Any]:
    """A keep-original edit over a small corner."""
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, 8, 8), fill=255)
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"op": "keep_original", "params": {"mask": url, "feather": 0}}


def restore_once(path: Path, answer_path: Path, *, keep: bool, tmp: Path) -> dict[str, Any]:
    """One restore of `path`; the merge step's seconds and whether it wrote in place."""
    catalog = parse_catalog(CATALOG, Path("models.toml"), local_ops=registry.names())
    cache = StepCache(tmp / "cache", 0, None)
    remote = RemoteExecutor(catalog, StandIn(answer_path.read_bytes()), cache)  # type: ignore[arg-type]
    runner = ChainRunner({"local": LocalExecutor(), "remote": remote})
    restored = asyncio.run(
        restore_image(
            path,
            catalog.chains["restore"],
            runner,
            Settings(data_dir=tmp, _env_file=None),  # type: ignore[call-arg]
            edits=[keep_mask()] if keep else [],
            before_edge=PREVIEW_EDGE,
        )
    )
    merge = next(s for s in restored.run.steps if s.name == "merge_detail")
    return {"merge": merge.duration, "in_place": bool(merge.measurements.get("in_place"))}
