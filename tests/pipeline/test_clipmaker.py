"""`ClipMaker`: a checked clip paid for once, against the fake router and a real clip cache."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from PIL import Image

from service.config.catalog import ModelSpec
from service.constants import CLIP_CACHE_INDEX, STEP_CACHE_INDEX
from service.errors import ConfigError, InvalidClip
from service.inference import InferenceClient
from service.pipeline.cache import CLIP_KEYS, StepCache
from service.pipeline.clip import ClipRules, probe_clip
from service.pipeline.clipmaker import ClipMaker, clip_cost
from tests.fakerouter import FakeRouter
from tests.images import photo

WAN22 = "Wan-AI/Wan2.2-I2V-A14B"
PARAMS = {"prompt": "A gentle blink; the camera still.", "num_frames": 33, "frames_per_second": 16}

Make = Callable[..., InferenceClient]


def spec(provider: str = "fal-ai") -> ModelSpec:
    return ModelSpec(name="wan", repo=WAN22, task="image-to-video", provider=provider, timeout=120)


@pytest.fixture
def picture() -> Image.Image:
    return photo(320, 240)


def maker(make_client: Make, router: FakeRouter, cache: StepCache, **rules: Any) -> ClipMaker:
    client = make_client(router_url=router.url, hub_url=router.url)
    return ClipMaker(client, cache, ClipRules(**rules))


def folder_cache(tmp_path: Path) -> StepCache:
    return StepCache(tmp_path / "clips", 50 * 2**20, keys=CLIP_KEYS)


def kept(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "clips").glob("*/*.bin"))


async def test_a_checked_clip_with_its_measures_and_cost(
    make_client: Make, picture: Image.Image, tmp_path: Path
) -> None:
    with FakeRouter() as router:
        clip = await maker(make_client, router, folder_cache(tmp_path)).make(
            picture, spec(), PARAMS, price_per_second=0.04
        )
    assert (clip.status, clip.provider, clip.model) == ("done", "fal-ai", WAN22)
    assert clip.provider_id == "fal-ai/wan/v2.2-a14b/image-to-video"
    assert clip.frames == 33
    assert clip.seconds == pytest.approx(33 / 16, abs=0.07)
    assert clip.asked_seconds == 33 / 16
    assert clip.cost_usd == clip_cost(0.04, clip.seconds)
    assert clip.cost_usd == pytest.approx(0.0825, abs=0.003)
    assert clip.similarity > 0.8
    assert probe_clip(clip.data).codec == "h264"


@pytest.mark.parametrize("backend", ["folder", "redis"])
async def test_a_second_identical_request_makes_no_provider_call(
    backend: str,
    make_client: Make,
    picture: Image.Image,
    tmp_path: Path,
    redis_db: aioredis.Redis,
) -> None:
    redis = redis_db if backend == "redis" else None
    cache = StepCache(tmp_path / "clips", 50 * 2**20, redis, keys=CLIP_KEYS)
    with FakeRouter() as router:
        clips = maker(make_client, router, cache)
        first = await clips.make(picture, spec(), PARAMS, price_per_second=0.04)
        seen = len(router.calls)
        again = await clips.make(picture, spec(), PARAMS, price_per_second=0.04)
        assert len(router.calls) == seen  # not even the Hub: nothing left the machine
        other = await clips.make(picture, spec(), {**PARAMS, "seed": 2})
        assert router.submits() == 2  # other parameters, another clip
    assert (again.status, again.cost_usd, again.provider) == ("cached", 0.0, "fal-ai")
    assert again.data == first.data
    assert other.status == "done"
    if redis is not None:  # clips have their own index: they never evict image results
        assert await redis.zcard(CLIP_CACHE_INDEX) == 2
        assert await redis.zcard(STEP_CACHE_INDEX) == 0


@pytest.mark.parametrize(("answer", "reason"), [("html", "not-mp4"), ("truncated", "truncated")])
async def test_garbage_is_refused_and_never_kept(
    answer: str,
    reason: str,
    make_client: Make,
    picture: Image.Image,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with FakeRouter(clip=answer) as router:
        clips = maker(make_client, router, folder_cache(tmp_path))
        with pytest.raises(InvalidClip) as caught:
            await clips.make(picture, spec(), PARAMS)
        assert await clips.client.slots.in_flight("fal-ai") == 0
    assert caught.value.reason == reason
    assert "the clip was refused" in str(caught.value)
    assert kept(tmp_path) == []
    assert list(scratch.iterdir()) == []


async def test_a_clip_of_something_else_is_refused_but_not_bought_again(
    make_client: Make, picture: Image.Image, tmp_path: Path
) -> None:
    with FakeRouter(clip="other") as router:
        clips = maker(make_client, router, folder_cache(tmp_path))
        for _ in range(2):
            with pytest.raises(InvalidClip, match="does not look like the photo"):
                await clips.make(picture, spec(), PARAMS)
        assert router.submits() == 1  # paid once; the same request buys the same clip
    assert len(kept(tmp_path)) == 1


async def test_a_clip_longer_than_asked_is_refused(
    make_client: Make, picture: Image.Image, tmp_path: Path
) -> None:
    with FakeRouter() as router:
        clips = maker(make_client, router, folder_cache(tmp_path), seconds_tolerance=0.1)
        with pytest.raises(InvalidClip, match="where 1 s was asked") as caught:
            await clips.make(picture, spec(), {**PARAMS, "duration": 1})  # makes 33 frames
    assert caught.value.reason == "duration"


async def test_sound_is_stripped_when_asked_and_the_cache_keeps_the_original(
    make_client: Make, picture: Image.Image, tmp_path: Path
) -> None:
    with FakeRouter(clip_audio=True) as router:
        clips = maker(make_client, router, folder_cache(tmp_path))
        silent = await clips.make(picture, spec(), PARAMS, rules=ClipRules(strip_audio=True))
        loud = await clips.make(picture, spec(), PARAMS)
        assert router.submits() == 1
    assert silent.audio_stripped
    assert not probe_clip(silent.data).has_audio
    assert loud.status == "cached"
    assert probe_clip(loud.data).has_audio
    assert probe_clip(silent.data).frames == probe_clip(loud.data).frames == 33


async def test_without_a_token_a_clip_is_refused_before_anything_is_sent(
    make_client: Make, picture: Image.Image, tmp_path: Path
) -> None:
    with FakeRouter() as router:
        client = make_client(router_url=router.url, hub_url=router.url, token=None)
        with pytest.raises(ConfigError, match="HF_TOKEN"):
            await ClipMaker(client, folder_cache(tmp_path)).make(picture, spec(), PARAMS)
        assert router.calls == []
