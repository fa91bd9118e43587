"""A large scan through the service and the fake HF router: the `restore` chain sends the model
a small copy and merges its answer back at the scan's full size with the scan's own detail; the
job's timeline shows the merge, the drift estimate and the face scores. A model that re-frames
the picture puts the job in review, saying why.

Real Redis, arq worker, watcher and local storage; the router is fake and its "model" restores
perfectly at the size it is sent (it answers with the clean picture at that size).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from redis.asyncio import Redis

from service.config.settings import Settings
from service.jobs.previews import load_preview
from service.queue import JobRecord
from service.runtime.services import Services
from tests.e2e.conftest import REDIS, poll_and_work
from tests.fakerouter import FakeRouter
from tests.pipeline.fullres_support import aged, astronaut, detail
from tests.pipeline.pipeline_photos import photo

TOKEN = "hf_e2e_test_token_123456"
SIZE = (2400, 1800)  # a 4.3-megapixel scan: five times the model's side
MODELS = """
default_chain = "restore"
[models.flux2-dev]
repo = "black-forest-labs/FLUX.2-dev"
provider = "auto"
max_pixels = 160_000
price_usd = 0.03
prompt = "Restore this old photograph."

[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.restore]
[[chains.restore.steps]]
op = "auto_orient"
[[chains.restore.steps]]
op = "remove_border"
[[chains.restore.steps]]
model = "flux2-dev"
[[chains.restore.steps]]
op = "merge_detail"
"""


@pytest.fixture(scope="module")
def clean() -> Image.Image:
    """A picture with a face and fine detail everywhere (a fabric-like texture)."""
    canvas = photo("coffee").resize(SIZE, Image.Resampling.LANCZOS)  # no border to crop
    canvas.paste(astronaut(SIZE[1]), ((SIZE[0] - SIZE[1]) // 2, 0))
    rng = np.random.default_rng(11)
    grain = Image.fromarray(rng.normal(128, 50, SIZE[::-1]).clip(0, 255).astype(np.uint8))
    texture = np.asarray(grain.filter(ImageFilter.GaussianBlur(0.8)), np.float32) - 128
    a = np.asarray(canvas, np.float32) + texture[..., None]  # ±19 grey levels, 1-px fine
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def model(clean: Image.Image, sent: list[tuple[int, int]], *, reframe: bool = False) -> Callable:
    """The fake router's model: the clean picture at the size it was sent (zoomed in and moved
    with `reframe`, as an edit model that re-composes the picture would)."""

    def answer(data: bytes) -> bytes:
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
        sent.append(size)
        picture = clean
        if reframe:
            w, h = clean.size  # 15 % closer, a little off-centre
            x, y = 0.1 * w, 0.03 * h
            picture = clean.crop((int(x), int(y), int(x + w / 1.15), int(y + h / 1.15)))
        return png(picture.resize(size, Image.Resampling.LANCZOS))

    return answer


async def restore_through_the_service(
    tmp_path: Path, scan: Image.Image, answer: Callable
) -> tuple[Services, JobRecord]:
    models = tmp_path / "models.toml"
    models.write_text(MODELS)
    with FakeRouter(answer=answer) as router:
        settings = Settings(
            data_dir=tmp_path / "data",
            models_file=models,
            hf_token=TOKEN,
            hf_router_url=router.url,  # type: ignore[arg-type]
            hf_endpoint=router.url,
            settle_seconds=0,
            retry_base_seconds=0.1,
        )
        services = await Services.open(settings, REDIS)
        inbox = settings.data_dir / "Family/to-restore"
        inbox.mkdir(parents=True)
        scan.save(inbox / "oma.jpg", quality=92)
        await poll_and_work(services)
    jobs, _ = await services.store.list()
    assert jobs[0].status == "done", jobs[0].error
    return services, jobs[0]


async def test_a_large_scan_comes_back_at_full_size_with_its_detail_and_a_timeline(
    tmp_path: Path, clean: Image.Image, redis: Redis
) -> None:
    sent: list[tuple[int, int]] = []
    scan = aged(clean)
    services, job = await restore_through_the_service(tmp_path, scan, model(clean, sent))
    try:
        with Image.open(services.settings.data_dir / "Family/restored/oma.jpg") as im:
            result = im.convert("RGB")
        assert result.size == SIZE
        assert len(sent) == 1
        assert max(SIZE) / max(sent[0]) > 4  # the model saw a fifth of the scan's side
        answer = clean.resize(sent[0], Image.Resampling.LANCZOS)
        plain = answer.resize(SIZE, Image.Resampling.LANCZOS)  # what match_size gave
        with Image.open(services.settings.data_dir / "Family/to-restore/oma.jpg") as im:
            ceiling = detail(im.convert("RGB"), clean)  # all the detail the scan itself holds
        kept = detail(result, clean)
        assert kept > 2 * detail(plain, clean)
        assert kept > 0.8 * ceiling  # measured: 3.1× the resize's, 0.89 of the ceiling
        merge = next(s for s in job.steps if s["name"] == "merge_detail")
        assert merge["status"] == "done"
        m = merge["measurements"]
        assert m["drift"]["kind"] == "small"
        assert m["drift"]["shift_pct"] < 0.5
        assert [f["score"] < f["limit"] for f in m["faces"]] == [True]  # the face, unchanged
        assert m["frame"] == list(SIZE)
        assert m["in_place"] is True  # the result took the scan's own memory
        assert job.review == []
        aligned = await load_preview(services.previews, job.id, "aligned")
        result_preview = await load_preview(services.previews, job.id, "result")
        assert aligned is not None
        assert result_preview is not None
        assert Image.open(io.BytesIO(aligned)).size == Image.open(io.BytesIO(result_preview)).size
    finally:
        await services.aclose()


async def test_a_reframed_answer_puts_the_job_in_review_with_the_reason(
    tmp_path: Path, clean: Image.Image, redis: Redis
) -> None:
    sent: list[tuple[int, int]] = []
    services, job = await restore_through_the_service(
        tmp_path, aged(clean), model(clean, sent, reframe=True)
    )
    try:
        assert job.review == ["local:merge_detail: the model moved or reframed the picture"]
        merge = next(s for s in job.steps if s["name"] == "merge_detail")
        assert merge["measurements"]["drift"]["kind"] == "reframed"
        to_review, _ = await services.store.list(status="review")
        assert [j.id for j in to_review] == [job.id]
        with Image.open(services.settings.data_dir / "Family/restored/oma.jpg") as im:
            assert im.size == SIZE  # a safe result: the answer enlarged as it is
    finally:
        await services.aclose()
