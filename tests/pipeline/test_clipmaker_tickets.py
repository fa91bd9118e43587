"""Never paying twice for a clip whose try failed after the provider took it: the ticket kept
from the submit on lets the next try poll or download that same request; a failure for good
drops it, and a ticket too old is not trusted."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from service.config.catalog import ModelSpec
from service.errors import ProviderRejected, ProviderUnavailable
from service.inference import InferenceClient, prepare_image_async
from service.inference.video import ClipTicket
from service.pipeline.cache import CLIP_KEYS, StepCache
from service.pipeline.clipmaker import TICKET, ClipMaker
from tests.fakerouter import DEFAULT_MAPPINGS, FakeRouter
from tests.images import photo

WAN22 = "Wan-AI/Wan2.2-I2V-A14B"
PARAMS = {"prompt": "A gentle blink; the camera still.", "num_frames": 33, "frames_per_second": 16}
Make = Callable[..., InferenceClient]


def spec(provider: str = "fal-ai") -> ModelSpec:
    return ModelSpec(
        name="wan", repo=WAN22, task="image-to-video", provider=provider, timeout=60, duration=2
    )


def maker(make_client: Make, router: FakeRouter, tmp_path: Path) -> ClipMaker:
    client = make_client(router_url=router.url, hub_url=router.url)
    return ClipMaker(client, StepCache(tmp_path / "clips", 50 * 2**20, keys=CLIP_KEYS))


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "clips").glob("*/*.bin"))


async def key_of(clips: ClipMaker, picture: Image.Image) -> str:
    return clips.key(await prepare_image_async(picture, spec().max_pixels), spec(), PARAMS)


async def ticket_of(clips: ClipMaker, picture: Image.Image) -> ClipTicket | None:
    return await clips.ticket(await key_of(clips, picture))


async def test_a_poll_past_its_deadline_is_resumed_not_bought_again(
    make_client: Make, tmp_path: Path
) -> None:
    picture = photo(320, 240)
    with FakeRouter(delay=3600) as router:  # not done within the call's (fake) minute
        clips = maker(make_client, router, tmp_path)
        with pytest.raises(ProviderUnavailable, match="still not finished"):
            await clips.make(picture, spec(), PARAMS)
        ticket = await ticket_of(clips, picture)
        assert ticket is not None
        assert ticket.provider == "fal-ai"
        assert ticket.url is None
        assert "response_url" in ticket.submitted
        for job in router.jobs.values():
            job.ready_at = 0.0  # the provider finished in the meantime
        clip = await clips.make(picture, spec(), PARAMS, price_per_second=0.04)
        assert router.submits() == 1
    assert clip.status == "done"
    assert clip.resumed
    assert "earlier try" in clip.note
    assert clip.cost_usd is not None
    assert clip.cost_usd > 0  # paid once, and counted once: now
    assert await ticket_of(clips, picture) is None  # the clip is stored: the ticket is done
    assert len(entries(tmp_path)) == 1


async def test_a_broken_download_is_fetched_again_from_the_url_the_ticket_kept(
    make_client: Make, tmp_path: Path
) -> None:
    picture = photo(320, 240)
    with FakeRouter(cdn_fail=4) as router:  # every download attempt of the first try
        clips = maker(make_client, router, tmp_path)
        with pytest.raises(ProviderUnavailable):
            await clips.make(picture, spec(), PARAMS)
        ticket = await ticket_of(clips, picture)
        assert ticket is not None
        assert ticket.url is not None
        assert ticket.url.endswith(".mp4")
        polls = router.count("fal-ai", "GET")
        clip = await clips.make(picture, spec(), PARAMS)
        assert router.submits() == 1
        assert router.count("fal-ai", "GET") == polls  # the URL was known: no poll either
    assert clip.frames == 33


@pytest.fixture
def refusing() -> FakeRouter:
    return FakeRouter(mappings={**DEFAULT_MAPPINGS, WAN22: {"wavespeed": "wan"}})


async def test_a_task_that_fails_for_good_leaves_no_ticket_behind(
    make_client: Make, tmp_path: Path, refusing: FakeRouter
) -> None:
    refusing.fail["wavespeed"] = "failed"
    with refusing as router:
        clips = maker(make_client, router, tmp_path)
        with pytest.raises(ProviderRejected, match="NSFW content detected"):
            await clips.make(photo(320, 240), spec("wavespeed"), PARAMS)
    assert entries(tmp_path) == []


async def test_a_ticket_older_than_a_day_is_not_trusted(make_client: Make, tmp_path: Path) -> None:
    picture = photo(320, 240)
    with FakeRouter(delay=3600) as router:
        clips = maker(make_client, router, tmp_path)
        with pytest.raises(ProviderUnavailable):
            await clips.make(picture, spec(), PARAMS)
        stale = await ticket_of(clips, picture)
        assert stale is not None
        key = await key_of(clips, picture) + TICKET
        old = ClipTicket(**{**vars(stale), "created": time.time() - 2 * 86400})
        await clips.cache.put(key, old.to_json(), {"ticket": True})
        router.delay = 0.0
        clip = await clips.make(picture, spec(), PARAMS)
        assert router.submits() == 2  # bought again: the old request may be gone
    assert not clip.resumed


def test_a_stored_ticket_that_is_not_one_is_ignored() -> None:
    assert ClipTicket.from_json(b"{not json") is None
    assert ClipTicket.from_json(b'{"provider": "fal-ai"}') is None
    ticket = ClipTicket("fal-ai", "x", "image-to-video", {"request_id": "r"}, created=1.0)
    assert ClipTicket.from_json(ticket.to_json()) == ticket
