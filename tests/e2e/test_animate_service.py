"""Animating through the whole service: watcher, queue, arq worker, pipeline, local storage, and
the fake router speaking fal-ai's, WaveSpeed's and together's video protocols with real MP4s.

`to-restore/animate/x.jpg` must give `restored/animate/x.jpg` and `restored/animate/x.mp4`;
a clip that cannot be had fails its step, with its reason, and the photo is still written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from service.config.settings import Settings
from service.inference import PollPolicy
from service.pipeline.clip import probe_clip
from service.queue import JobRecord
from service.retry import RetryPolicy
from service.runtime.services import Services
from tests.e2e.conftest import REDIS, poll_and_work
from tests.fakerouter import DEFAULT_MAPPINGS, FakeRouter
from tests.images import jpeg_with_exif

TOKEN = "hf_e2e_test_token_123456"
WAN22 = "Wan-AI/Wan2.2-I2V-A14B"
SCAN = "Family/to-restore/animate/oma.jpg"
PHOTO = "Family/restored/animate/oma.jpg"
CLIP = "Family/restored/animate/oma.mp4"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clips are polled every 5 s in production; the fake router has them ready at once, and
    retries back off in 10 ms instead of seconds."""
    monkeypatch.setattr("service.inference.client.VIDEO_POLL", PollPolicy(interval=0.02))
    monkeypatch.setattr(
        "service.inference.client.PROVIDER_RETRY", RetryPolicy(attempts=2, base=0.01, jitter=0)
    )


def routed(**kw: Any) -> Iterator[FakeRouter]:
    with FakeRouter(**kw) as router:
        yield router


async def open_services(
    tmp_path: Path, router: FakeRouter, token: str | None = TOKEN, **kw: Any
) -> Services:
    settings = Settings(
        data_dir=tmp_path / "data",
        state_dir=tmp_path / "state",
        hf_token=token,
        hf_router_url=router.url,  # type: ignore[arg-type]
        hf_endpoint=router.url,
        settle_seconds=0,
        retry_base_seconds=0.05,
        **kw,
    )
    return await Services.open(settings, REDIS)


async def animate(services: Services) -> JobRecord:
    scan = services.settings.data_dir / SCAN
    scan.parent.mkdir(parents=True)
    jpeg_with_exif(scan, size=(640, 480))
    await poll_and_work(services)
    jobs, _ = await services.store.list()
    assert len(jobs) == 1
    return jobs[0]


def clip_step(job: JobRecord) -> dict[str, Any]:
    (step,) = [s for s in job.steps if s["kind"] == "video"]
    return step


def only(mapping: dict[str, str]) -> dict[str, dict[str, str]]:
    return {**DEFAULT_MAPPINGS, WAN22: mapping}


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    yield from routed()


async def test_the_photo_and_its_clip_land_in_restored(
    tmp_path: Path, router: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, router)
    try:
        job = await animate(services)
        data = services.settings.data_dir
        assert job.status == "done", job.error
        assert (data / PHOTO).is_file()
        probe = probe_clip((data / CLIP).read_bytes())
        assert (probe.codec, probe.frames) == ("h264", 81)  # fal: num_frames of models.toml
        assert job.clip == "/" + CLIP
        step = clip_step(job)
        assert (step["status"], step["provider"], step["model"]) == ("done", "fal-ai", WAN22)
        assert step["cost_usd"] == pytest.approx(0.04 * probe.seconds, abs=1e-4)
        assert [s["kind"] for s in job.steps][:2] == ["local", "local"]  # restored first
        assert router.submits("fal-ai") == 2  # the restore model, then the clip
        assert not list(data.rglob("*.failed.txt"))
        assert not list(data.rglob(".restore-*"))  # both written atomically, no temp left
        seconds = (job.finished or 0) - job.created
        print(f"\ndrop → photo and clip, fake router, quick polls: {seconds:.2f} s")
    finally:
        await services.aclose()


@pytest.fixture
def fal_refuses() -> Iterator[FakeRouter]:
    yield from routed(fail={"fal-ai": 402})


async def test_payment_required_on_fal_is_answered_by_wavespeed(
    tmp_path: Path, fal_refuses: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, fal_refuses)
    try:
        job = await animate(services)
        assert job.status == "done", job.error
        step = clip_step(job)
        assert step["provider"] == "wavespeed"
        assert step["note"].endswith("fal-ai failed")
        assert fal_refuses.submits("wavespeed") == 1
        assert (services.settings.data_dir / CLIP).is_file()
    finally:
        await services.aclose()


@pytest.fixture
def wavespeed_fails() -> Iterator[FakeRouter]:
    yield from routed(mappings=only({"wavespeed": "wavespeed-ai/wan-2.2/i2v-480p"}))


async def test_a_failed_wavespeed_task_fails_the_clip_step_with_its_message(
    tmp_path: Path, wavespeed_fails: FakeRouter, redis: Redis
) -> None:
    wavespeed_fails.fail["wavespeed"] = "failed"
    services = await open_services(tmp_path, wavespeed_fails)
    try:
        job = await animate(services)
        data = services.settings.data_dir
        assert job.status == "done", job.error
        step = clip_step(job)
        assert step["status"] == "failed"
        assert "NSFW content detected in the input" in step["note"]
        assert (data / PHOTO).is_file()
        assert not (data / CLIP).exists()
        note = (data / (CLIP + ".failed.txt")).read_text()
        assert "NSFW content detected in the input" in note
        assert "oma.jpg" in note
        assert job.clip is None
        assert job.note is not None
        assert "no clip" in job.note
        assert wavespeed_fails.submits("wavespeed") == 1  # a refusal is not retried
    finally:
        await services.aclose()


async def test_a_rerun_with_the_same_settings_asks_no_provider_anything(
    tmp_path: Path, router: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, router)
    try:
        first = await animate(services)
        clip = (services.settings.data_dir / CLIP).read_bytes()
        seen = len(router.calls)
        assert await services.queue.requeue(first.id)
        await poll_and_work(services)
        again = await services.store.get(first.id)
        assert again is not None
        assert again.status == "done", again.error
        assert len(router.calls) == seen
        assert clip_step(again)["status"] == "cached"
        assert again.cost_usd == 0.0
        assert (services.settings.data_dir / CLIP).read_bytes() == clip
    finally:
        await services.aclose()


@pytest.fixture
def cdn_hiccup() -> Iterator[FakeRouter]:
    yield from routed(cdn_fail=2)  # both download attempts of the first try


async def test_a_retry_after_a_broken_download_downloads_and_pays_nothing_more(
    tmp_path: Path, cdn_hiccup: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, cdn_hiccup)
    try:
        job = await animate(services)
        assert job.status == "done", job.error
        assert job.attempts == 2
        step = clip_step(job)
        assert step["status"] == "done"
        assert "earlier try" in step["note"]
        assert step["cost_usd"] > 0  # the try that paid is on no other record
        video_submits = [
            c for c in cdn_hiccup.calls if c.method == "POST" and "image-to-video" in c.path
        ]
        assert len(video_submits) == 1
        assert (services.settings.data_dir / CLIP).is_file()
    finally:
        await services.aclose()


@pytest.fixture
def truncating() -> Iterator[FakeRouter]:
    yield from routed(clip="truncated")


async def test_a_truncated_clip_fails_its_step_and_leaves_nothing_behind(
    tmp_path: Path, truncating: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, truncating)
    try:
        job = await animate(services)
        data = services.settings.data_dir
        assert job.status == "done", job.error
        step = clip_step(job)
        assert step["status"] == "failed"
        assert "the clip was refused" in step["note"]
        assert (data / PHOTO).is_file()
        assert not (data / CLIP).exists()
        assert list((tmp_path / "state" / "clip-cache").rglob("*.bin")) == []
        assert await redis.keys("photo-restore:clip-cache:*") == []
        assert not list(data.rglob(".restore-*"))
    finally:
        await services.aclose()


async def test_without_a_token_an_animate_job_is_refused_with_the_reason(
    tmp_path: Path, router: FakeRouter, redis: Redis
) -> None:
    services = await open_services(tmp_path, router, token=None)
    try:
        job = await animate(services)
        assert job.status == "failed"
        assert job.error is not None
        assert "needs HF_TOKEN" in job.error
        assert "no clip can be made offline" in job.error
        assert not (services.settings.data_dir / PHOTO).exists()
        assert router.submits() == 0
    finally:
        await services.aclose()
