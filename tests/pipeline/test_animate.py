"""The video step in the pipeline: the photo goes on unchanged with a clip beside it; a clip
that cannot be had is a failed step with its reason, not a failed run; a re-run's clip model
and prompt are what is sent; with a keep-original mask the clip is of the masked photo."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from service.config.catalog import Catalog
from service.config.settings import Settings
from service.errors import ProviderUnavailable
from service.inference import InferenceClient, PollPolicy
from service.pipeline.animate import VideoExecutor
from service.pipeline.cache import CLIP_KEYS, StepCache
from service.pipeline.clip import first_frame, probe_clip, similarity
from service.pipeline.clipmaker import ClipMaker
from service.pipeline.registry import OpContext
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext
from service.retry import RetryPolicy
from service.runtime.services import load_checked_catalog
from tests.fakerouter import DEFAULT_MAPPINGS, FakeRouter
from tests.images import jpeg_with_exif, photo

WAN22 = "Wan-AI/Wan2.2-I2V-A14B"
H3 = "MiniMaxAI/MiniMax-H3"


@pytest.fixture
def catalog() -> Catalog:
    # DEFAULT_CHAIN classic: `animate` restores locally, only the clip is remote.
    return load_checked_catalog(Settings(hf_token="hf_x", default_chain="classic"))


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    with FakeRouter() as fake:
        yield fake


def executor(
    catalog: Catalog, router: FakeRouter, http: httpx.AsyncClient, tmp: Path
) -> VideoExecutor:
    client = InferenceClient(
        http,
        router_url=router.url,
        hub_url=router.url,
        token="hf_x",
        retry=RetryPolicy(attempts=2, base=0.01, jitter=0.0),
        video_poll=PollPolicy(interval=0.01),
    )
    cache = StepCache(tmp / "clips", 50 * 2**20, keys=CLIP_KEYS)
    return VideoExecutor(catalog, ClipMaker(client, cache))


def ctx(**kw: object) -> RunContext:
    return RunContext(op_context=OpContext(original_size=(320, 240)), **kw)  # type: ignore[arg-type]


async def test_the_photo_goes_on_unchanged_with_a_clip_beside_it(
    catalog: Catalog, router: FakeRouter, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    picture = photo(320, 240)
    step = catalog.chains["animate"].steps[-1]
    out = await executor(catalog, router, http, tmp_path).run(picture, step, ctx())
    assert out.image is picture
    assert (out.status, out.provider, out.model) == ("done", "fal-ai", WAN22)
    assert out.clip is not None
    assert probe_clip(out.clip).frames == 81
    assert out.cost_usd == pytest.approx(0.04 * 81 / 16, abs=0.01)
    assert "clip 5.1 s, 81 frames" in out.note
    sent = next(c.json for c in router.calls if c.method == "POST")
    assert sent["prompt"].startswith("Bring this old photograph gently to life")
    assert sent["negative_prompt"].startswith("camera movement")
    assert (sent["num_frames"], sent["frames_per_second"], sent["resolution"]) == (81, 16, "480p")


async def test_a_reruns_clip_model_and_prompt_are_what_is_sent(
    catalog: Catalog, router: FakeRouter, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    step = catalog.chains["animate"].steps[-1]
    choice = ctx(clip={"model": "minimax-h3", "prompt": "She smiles, nothing else moves."})
    out = await executor(catalog, router, http, tmp_path).run(photo(320, 240), step, choice)
    assert (out.status, out.model) == ("done", H3)
    sent = next(c.json for c in router.calls if c.method == "POST")
    assert sent["prompt"] == "She smiles, nothing else moves."
    assert (sent["duration"], sent["resolution"], sent["prompt_optimizer"]) == ("6", "768P", False)


async def test_a_refused_clip_is_a_failed_step_and_the_photo_goes_on(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    picture = photo(320, 240)
    step = catalog.chains["animate"].steps[-1]
    with FakeRouter(clip="other") as router:
        out = await executor(catalog, router, http, tmp_path).run(picture, step, ctx())
    assert out.image is picture
    assert out.status == "failed"
    assert out.clip is None
    assert "does not look like the photo" in out.note
    assert out.model == WAN22


async def test_a_model_that_makes_no_clips_is_a_failed_step_naming_the_clip_models(
    catalog: Catalog, router: FakeRouter, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    step = catalog.chains["animate"].steps[-1]
    out = await executor(catalog, router, http, tmp_path).run(
        photo(64, 48), step, ctx(clip={"model": "flux2-dev"})
    )
    assert out.status == "failed"
    assert "clip models: wan22-i2v, wan21-i2v, minimax-h3" in out.note
    assert router.submits() == 0


@pytest.fixture
def overloaded() -> Iterator[FakeRouter]:
    with FakeRouter(
        mappings={**DEFAULT_MAPPINGS, WAN22: {"fal-ai": "x"}}, fail={"fal-ai": 503}
    ) as r:
        yield r


async def test_an_overloaded_provider_asks_for_a_retry_until_the_last_try(
    catalog: Catalog, overloaded: FakeRouter, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    step = catalog.chains["animate"].steps[-1]
    video = executor(catalog, overloaded, http, tmp_path)
    with pytest.raises(ProviderUnavailable, match="503"):
        await video.run(photo(64, 48), step, ctx(last_try=False))
    out = await video.run(photo(64, 48), step, ctx(last_try=True))
    assert out.status == "failed"
    assert out.note.startswith("no clip after the job's last try")


def _mask(size: tuple[int, int]) -> str:
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, size[0], size[1]))  # keep the whole original
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


async def test_with_a_keep_original_mask_the_clip_is_of_the_masked_photo(
    catalog: Catalog, router: FakeRouter, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    scan = tmp_path / "scan.jpg"
    jpeg_with_exif(scan, size=(320, 240))
    runner = ChainRunner(
        {"local": LocalExecutor(), "video": executor(catalog, router, http, tmp_path)}
    )
    steps: list[list[str]] = []

    async def progress(records: list[object]) -> None:
        steps.append([r.name for r in records])  # type: ignore[attr-defined]

    edits = [{"op": "keep_original", "params": {"mask": _mask((320, 240)), "feather": 0}}]
    restored = await restore_image(
        scan,
        catalog.chains["animate"],
        runner,
        Settings(data_dir=tmp_path),
        edits=edits,
        on_progress=progress,
    )
    names = [s.name for s in restored.run.steps]
    assert names[-2:] == ["keep_original", "wan22-i2v"]
    assert [s.index for s in restored.run.steps] == list(range(len(names)))
    assert steps[-1] == names
    assert restored.clip is not None
    with Image.open(io.BytesIO(restored.data)) as written:  # the clip starts from the photo
        assert similarity(first_frame(restored.clip), written.convert("RGB")) > 0.8
