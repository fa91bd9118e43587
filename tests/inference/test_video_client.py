"""`InferenceClient.image_to_video` against the fake router's three video protocols.

Real HTTP on loopback (tests/fakerouter.py), real MP4s made with PyAV, a fake clock for every
wait of ours (polls, backoff), so deadlines are reached without waiting for them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from inference_support import FakeClock
from PIL import Image

from service.config.catalog import ModelSpec
from service.errors import ConfigError, InvalidClip, ProviderRejected, ProviderUnavailable
from service.inference import ImagePayload, InferenceClient, VideoResult
from service.inference.images import prepare_image
from service.inference.together_video import MAX_IMAGE_CHARS
from service.pipeline.clip import check_clip
from tests.fakerouter import FakeRouter
from tests.images import photo

WAN22 = "Wan-AI/Wan2.2-I2V-A14B"
WAN21 = "Wan-AI/Wan2.1-I2V-14B-480P"
H3 = "MiniMaxAI/MiniMax-H3"
GENTLE = "A gentle blink and a slight smile; the camera still."

Make = Callable[..., InferenceClient]


def video_spec(repo: str = WAN22, provider: str = "auto", timeout: float = 120.0) -> ModelSpec:
    return ModelSpec(
        name="clip", repo=repo, task="image-to-video", provider=provider, timeout=timeout
    )


@pytest.fixture
def picture() -> Image.Image:
    return photo(320, 240)


@pytest.fixture
def sent(picture: Image.Image) -> ImagePayload:
    return prepare_image(picture, 1_048_576)


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The process's temp folder, pointed at an empty one: a test asserts nothing is left."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def routed(make_client: Make, router: FakeRouter, **options: Any) -> InferenceClient:
    return make_client(router_url=router.url, hub_url=router.url, **options)


def trail(router: FakeRouter) -> list[tuple[str, str, str]]:
    """Every request after the Hub's, with ids replaced so paths compare."""
    out = []
    for c in router.calls:
        path = c.path
        for rid in router.jobs:
            path = path.replace(rid, "ID")
        out.append((c.provider, c.method, path))
    return out


async def make(
    client: InferenceClient, sent: ImagePayload, spec: ModelSpec, **params: Any
) -> VideoResult:
    return await client.image_to_video(spec, sent, {"prompt": GENTLE, **params})


PROTOCOLS = {
    "fal-ai": (
        {"num_frames": 33, "frames_per_second": 16},
        [
            ("fal-ai", "POST", "/fal-ai/fal-ai/wan/v2.2-a14b/image-to-video"),
            ("fal-ai", "GET", "/fal-ai/fal-ai/wan/requests/ID/status"),
            ("fal-ai", "GET", "/fal-ai/fal-ai/wan/requests/ID"),
            ("cdn", "GET", "/cdn/ID.mp4"),
        ],
    ),
    "wavespeed": (
        {"duration": 2},
        [
            ("wavespeed", "POST", "/wavespeed/api/v3/wavespeed-ai/wan-2.2/i2v-480p"),
            ("wavespeed", "GET", "/wavespeed/api/v3/predictions/ID/result"),
            ("cdn", "GET", "/cdn/ID.mp4"),
        ],
    ),
    "together": (
        {"seconds": "2", "fps": 16},
        [
            ("together", "POST", "/together/v2/videos"),
            ("together", "GET", "/together/v2/videos/ID"),
            ("cdn", "GET", "/cdn/ID.mp4"),
        ],
    ),
}


@pytest.mark.parametrize("provider", list(PROTOCOLS))
async def test_each_provider_makes_a_clip_of_the_photo(
    provider: str, make_client: Make, sent: ImagePayload, picture: Image.Image
) -> None:
    params, expected = PROTOCOLS[provider]
    with FakeRouter() as router:
        client = routed(make_client, router)
        result = await make(client, sent, video_spec(provider=provider), **params)

    assert (result.provider, result.task, result.retries) == (provider, "image-to-video", 0)
    assert result.seconds == (33 / 16 if provider == "fal-ai" else 2.0)  # asked, for the cost
    checked = check_clip(result.data, picture, seconds=result.seconds, frames=result.frames)
    assert checked.probe.seconds == pytest.approx(result.seconds, abs=0.1)
    assert trail(router)[0][0] == "hub"
    assert trail(router)[1:] == expected  # submit, one poll, (result), download
    submit = router.calls[1]
    assert submit.headers["accept"] == "*/*"  # httpx's default: no image/png for clips
    assert submit.headers["authorization"].startswith("Bearer hf_")
    assert "authorization" not in router.calls[-1].headers  # the CDN is a third party


async def test_a_402_fails_over_to_the_next_provider(make_client: Make, sent: ImagePayload) -> None:
    with FakeRouter(fail={"fal-ai": 402}) as router:
        result = await make(routed(make_client, router), sent, video_spec())
    assert result.provider == "wavespeed"
    assert result.note == "fal-ai failed"
    assert (router.submits("fal-ai"), router.submits("wavespeed")) == (1, 1)
    assert router.submits("together") == 0


async def test_a_provider_down_after_retries_fails_over(
    make_client: Make, sent: ImagePayload
) -> None:
    with FakeRouter(fail={"fal-ai": 503, "wavespeed": 503}) as router:
        result = await make(routed(make_client, router), sent, video_spec())
    assert result.provider == "together"
    assert router.submits("fal-ai") == router.submits("wavespeed") == 4  # our bounded retries


async def test_a_failed_wavespeed_job_is_reported_with_its_message_and_not_bought_again(
    make_client: Make, sent: ImagePayload
) -> None:
    with (
        FakeRouter(fail={"fal-ai": 402, "wavespeed": "failed"}) as router,
        pytest.raises(ProviderRejected, match="NSFW content detected in the input"),
    ):
        await make(routed(make_client, router), sent, video_spec())
    assert router.submits("wavespeed") == 1
    assert router.submits("together") == 0  # it ran, so it is paid: no second provider


async def test_a_failed_together_job_is_reported_with_its_message(
    make_client: Make, sent: ImagePayload
) -> None:
    with (
        FakeRouter(fail={"together": "failed"}) as router,
        pytest.raises(ProviderRejected, match="video violates the policy"),
    ):
        await make(routed(make_client, router), sent, video_spec(provider="together"))


async def test_429_is_retried_after_the_servers_retry_after(
    make_client: Make, sent: ImagePayload, clock: FakeClock
) -> None:
    with FakeRouter(fail={"fal-ai": [429, None]}, retry_after=7) as router:
        result = await make(routed(make_client, router), sent, video_spec())
    assert result.provider == "fal-ai"
    assert result.retries == 1
    assert router.submits("fal-ai") == 2
    assert clock.sleeps[0] >= 7.0


async def test_minimax_h3_is_found_as_image_text_to_video_and_needs_a_prompt(
    make_client: Make, sent: ImagePayload
) -> None:
    with FakeRouter() as router:
        client = routed(make_client, router)
        with pytest.raises(ConfigError, match="needs a prompt"):
            await client.image_to_video(video_spec(H3), sent, {"duration": 2})
        assert router.submits() == 0
        result = await make(client, sent, video_spec(H3), duration=2)
    assert (result.provider, result.task) == ("fal-ai", "image-text-to-video")
    assert router.calls[-4].json["prompt"] == GENTLE


async def test_together_gets_a_photo_under_its_input_cap(make_client: Make) -> None:
    big = prepare_image(photo(1400, 1000), 1_048_576)
    assert len(big.data_url()) > MAX_IMAGE_CHARS
    with FakeRouter() as router:
        result = await make(routed(make_client, router), big, video_spec(provider="together"))
    submit = next(c for c in router.calls if c.method == "POST")
    assert len(submit.json["frame_images"][0]["input_image"]) <= MAX_IMAGE_CHARS
    assert check_clip(result.data, photo(1400, 1000)).similarity > 0.8


async def test_the_html_page_of_a_submit_is_a_clear_error_and_no_second_purchase(
    make_client: Make, sent: ImagePayload, scratch: Path
) -> None:
    with FakeRouter(html="submit") as router:
        client = routed(make_client, router)
        with pytest.raises(ProviderUnavailable, match=r"not JSON \(text/html\)"):
            await make(client, sent, video_spec())
        assert router.submits() == 1  # accepted, so perhaps paid: not sent elsewhere
        assert await client.slots.in_flight("fal-ai") == 0
    assert not list(scratch.iterdir())


async def test_the_html_page_of_a_poll_is_a_clear_error(
    make_client: Make, sent: ImagePayload, scratch: Path
) -> None:
    with FakeRouter(html="poll") as router, pytest.raises(ProviderUnavailable, match="not JSON"):
        await make(routed(make_client, router), sent, video_spec(provider="wavespeed"))
    assert not list(scratch.iterdir())


async def test_a_clip_announced_as_2_gib_is_refused_before_it_is_read(
    make_client: Make, sent: ImagePayload, scratch: Path
) -> None:
    with FakeRouter(clip="huge") as router:
        client = routed(make_client, router)
        with pytest.raises(InvalidClip, match=r"announced as 2048\.0 MiB") as caught:
            await make(client, sent, video_spec())
        assert await client.slots.in_flight("fal-ai") == 0
    assert caught.value.reason == "too-large"
    assert not list(scratch.iterdir())


async def test_a_clip_streaming_past_the_limit_is_cut_off(
    make_client: Make, sent: ImagePayload, scratch: Path
) -> None:
    with FakeRouter(clip="endless") as router:
        client = routed(make_client, router)
        with pytest.raises(InvalidClip, match=r"more than 1\.0 MiB, the limit; its download"):
            await client.image_to_video(video_spec(), sent, {"prompt": GENTLE}, max_bytes=2**20)
    assert not list(scratch.iterdir())


async def test_a_poll_that_never_completes_ends_at_the_models_deadline(
    make_client: Make, sent: ImagePayload, clock: FakeClock, scratch: Path
) -> None:
    started = clock.now
    with FakeRouter(delay=10**6) as router:
        client = routed(make_client, router)
        for provider in PROTOCOLS:
            with pytest.raises(ProviderUnavailable, match="still not finished"):
                await make(client, sent, video_spec(provider=provider, timeout=300.0))
            assert await client.slots.in_flight(provider) == 0
    assert clock.now - started <= 3 * 300.0
    polls = router.count(method="GET") - router.count("hub")
    assert 3 * 5 <= polls <= 3 * (300 / 5)  # polled, but no more often than every 5 s
    assert router.submits() == 3
    assert not list(scratch.iterdir())
