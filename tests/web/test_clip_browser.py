"""The review page plays a job's clip in real Chromium, served in ranges; the jobs list marks
it; rejecting deletes the clip with the photo. The fake router makes the clips (H.264, which
Debian's chromium decodes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from service.inference import PollPolicy
from tests.fakerouter import FakeRouter
from tests.web.live import INBOX, PASSWORD, LiveServer, done_job, old_photo_bytes, sign_in

pytestmark = pytest.mark.browser
LOADED = "v => v.readyState >= 2 && v.duration > 0"


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRouter]:
    monkeypatch.setattr("service.inference.client.VIDEO_POLL", PollPolicy(interval=0.02))
    with FakeRouter() as fake:
        yield fake


@pytest.fixture
def animated(
    live_factory: Callable[..., LiveServer], router: FakeRouter, rdb: redis.Redis
) -> tuple[LiveServer, dict[str, Any]]:
    """A live dashboard with a token, and one finished `animate` job (restored with classic:
    DEFAULT_CHAIN is classic in these settings, so only the clip goes to the router)."""
    server = live_factory(
        hf_token="hf_test_token", hf_router_url=router.url, hf_endpoint=router.url
    )
    folder = server.settings.data_dir / INBOX / "animate"
    folder.mkdir()
    part = folder / ".grandpa.jpg.part"  # as a sync client writes: then renamed into place
    part.write_bytes(old_photo_bytes(640))
    part.rename(folder / "grandpa.jpg")
    return server, done_job(rdb, "grandpa.jpg")


def signed_in_client(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/"})
    return client


def test_the_review_page_plays_the_clip_with_the_photo_as_poster(
    animated: tuple[LiveServer, dict[str, Any]], page: Any
) -> None:
    server, job = animated
    assert job["clip"].endswith("/restored/animate/grandpa.mp4")
    sign_in(page, server)
    badge = page.locator("#job-rows tr", has_text="grandpa.jpg").locator(".has-clip")
    badge.wait_for()
    page.goto(f"{server.url}/jobs/{job['id']}")
    video = page.locator("#clip-video")
    video.wait_for()
    page.wait_for_function(LOADED, arg=video.element_handle())
    state = video.evaluate(
        "v => ({ready: v.readyState, duration: v.duration, muted: v.muted, loop: v.loop,"
        " controls: v.controls, poster: v.poster, error: v.error && v.error.code})"
    )
    assert state["ready"] >= 2
    assert state["duration"] > 0
    assert state["error"] is None
    assert (state["muted"], state["loop"], state["controls"]) == (True, True, True)
    assert f"/api/jobs/{job['id']}/image/result" in state["poster"]
    link = page.get_by_role("link", name="Download clip (MP4)")
    assert link.get_attribute("href") == f"/api/jobs/{job['id']}/clip?download=1"
    assert "clip" in page.locator("#clip-info").inner_text()


def test_the_clip_is_served_in_ranges_as_video_mp4(
    animated: tuple[LiveServer, dict[str, Any]],
) -> None:
    server, job = animated
    whole = (server.settings.data_dir / job["clip"].lstrip("/")).read_bytes()
    client = signed_in_client(server)
    try:
        part = client.get(f"/api/jobs/{job['id']}/clip", headers={"range": "bytes=100-199"})
        full = client.get(f"/api/jobs/{job['id']}/clip?download=1")
    finally:
        client.close()
    assert part.status_code == 206
    assert part.headers["content-type"] == "video/mp4"
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    assert part.content == whole[100:200]
    assert full.status_code == 200
    assert full.content == whole
    assert full.headers["content-disposition"].startswith('attachment; filename="grandpa.mp4"')
    assert "media-src 'self'" in full.headers["content-security-policy"]


def test_rejecting_deletes_the_photo_and_its_clip(
    animated: tuple[LiveServer, dict[str, Any]], page: Any
) -> None:
    server, job = animated
    data: Path = server.settings.data_dir
    photo, clip = data / job["output"].lstrip("/"), data / job["clip"].lstrip("/")
    assert photo.is_file()
    assert clip.is_file()
    sign_in(page, server)
    page.goto(f"{server.url}/jobs/{job['id']}")
    page.get_by_role("button", name="Reject (delete the result and its clip)").click()
    page.get_by_text("the result and its clip were deleted").wait_for()
    assert not photo.exists()
    assert not clip.exists()
    assert page.locator("#clip-video").is_hidden()
    assert (data / INBOX / "animate" / "grandpa.jpg").is_file()  # the original stays
