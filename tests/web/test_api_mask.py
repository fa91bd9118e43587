"""The damage mask as a step result: a run's mask becomes the job's `mask` preview, the record
says there is one, the API serves it (to those signed in), and a re-run with the brush's
`damage_mask` edit saves the corrected mask."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import redis
from PIL import Image

from service.jobs.previews import PREVIEW_EDGE
from service.pipeline.aligned import preview_size
from tests.damage_op import (
    BOX,
    CHAIN,
    NO_DETECTOR,
    box_mask,
    models_with_mask_chain,
    models_with_plain_chain,
)
from tests.web.api_support import Api, api_for
from tests.web.live import scan_bytes


@pytest.fixture
async def api(rdb: redis.Redis, data_dir: Path) -> AsyncIterator[Api]:
    async with api_for(data_dir) as a:
        yield a


@pytest.fixture
async def masked(rdb: redis.Redis, data_dir: Path, tmp_path: Path) -> AsyncIterator[Api]:
    """The app whose default chain runs the stand-in damage detector."""
    models = models_with_mask_chain(tmp_path)
    async with api_for(data_dir, models_file=models, default_chain=CHAIN) as a:
        yield a


def png_url(mask: Image.Image) -> str:
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


async def served_mask(api: Api, job_id: str) -> np.ndarray:
    r = await api.client.get(f"/api/jobs/{job_id}/image/mask")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("L"))


def at(mask: np.ndarray, fx: float, fy: float) -> int:
    """The mask's value at a point given as fractions of its width and height."""
    h, w = mask.shape
    return int(mask[int(fy * h), int(fx * w)])


async def test_a_runs_damage_mask_is_served_and_a_rerun_with_corrections_changes_it(
    masked: Api,
) -> None:
    api = masked
    job_id = await api.upload("scan.jpg", scan_bytes(1600, 1200))
    record = await api.run(job_id)
    assert record.status == "done", record.error
    job = await api.job(job_id)
    assert job["damage_mask"] is True
    mask = await served_mask(api, job_id)
    assert mask.shape[::-1] == preview_size(tuple(job["size"]), PREVIEW_EDGE)  # as aligned
    aligned = await api.client.get(f"/api/jobs/{job_id}/image/aligned")
    with Image.open(io.BytesIO(aligned.content)) as im:
        assert im.size == mask.shape[::-1]
    inside = ((BOX[0] + BOX[2]) / 2, (BOX[1] + BOX[3]) / 2)
    assert at(mask, *inside) == 255
    assert at(mask, 0.7, 0.7) == 0

    # Painted over the shown mask (any size: only proportions count): erase the box, add
    # a patch lower right.
    small = mask.shape[::-1]
    edit = {
        "op": "damage_mask",
        "params": {
            "add": png_url(box_mask(small, (0.6, 0.6, 0.8, 0.8))),
            "erase": png_url(box_mask(small, BOX)),
        },
    }
    r = await api.post(f"/api/jobs/{job_id}/rerun", {"edits": [edit]})
    assert r.status_code == 201, r.text
    child = r.json()["id"]
    assert (await api.run(child)).status == "done"
    corrected = await served_mask(api, child)
    assert at(corrected, *inside) == 0
    assert at(corrected, 0.7, 0.7) == 255
    assert (await api.job(child))["edits"][0]["op"] == "damage_mask"

    api.client.cookies.clear()
    anonymous = await api.client.get(f"/api/jobs/{job_id}/image/mask")
    assert anonymous.status_code == 401


async def test_a_job_whose_chain_has_no_damage_step_has_no_mask(
    rdb: redis.Redis, data_dir: Path, tmp_path: Path
) -> None:
    models = models_with_plain_chain(tmp_path)
    async with api_for(data_dir, models_file=models, default_chain=NO_DETECTOR) as api:
        job_id = await api.upload("plain.jpg")
        assert (await api.run(job_id)).status == "done"
        assert (await api.job(job_id))["damage_mask"] is False
        r = await api.client.get(f"/api/jobs/{job_id}/image/mask")
        assert r.status_code == 404


async def test_classic_always_offers_its_mask_even_when_nothing_was_found(api: Api) -> None:
    """An empty mask is still a mask: the brush can add damage the detector missed."""
    job_id = await api.upload("plain.jpg")
    assert (await api.run(job_id)).status == "done"
    assert (await api.job(job_id))["damage_mask"] is True
    r = await api.client.get(f"/api/jobs/{job_id}/image/mask")
    assert r.status_code == 200


async def test_a_bad_mask_edit_is_refused_before_anything_runs(api: Api) -> None:
    job_id = await api.upload("plain.jpg")
    assert (await api.run(job_id)).status == "done"
    bad = {"op": "damage_mask", "params": {"add": "data:image/png;base64,!!"}}
    r = await api.post(f"/api/jobs/{job_id}/rerun", {"edits": [bad]})
    assert r.status_code == 400
    assert "edits[0]: damage_mask: add is not a readable PNG" in r.json()["error"]
