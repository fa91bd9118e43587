"""The dashboard in real Chromium against the real app, worker and watcher."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from PIL import Image

from service.constants import JOB_KEY, LEDGER_KEY
from tests.web.live import (
    INBOX,
    LiveServer,
    all_jobs,
    done_job,
    drop,
    old_photo_bytes,
    scan_bytes,
    sign_in,
    wait_for,
    wait_job,
)

pytestmark = pytest.mark.browser
# A function, not an expression: Playwright compiles an expression with eval, which the
# dashboard's CSP forbids, while polling for it.
ALL_LOADED = "selector => [...document.querySelectorAll(selector)].every(i => i.complete)"


def test_sign_in_refuses_a_wrong_password_and_admits_the_right_one(
    live: LiveServer, page: Any
) -> None:
    page.goto(live.url + "/")
    assert "/login" in page.url
    page.get_by_label("Dashboard password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong password."
    assert "/login" in page.url
    sign_in(page, live)
    page.get_by_role("heading", name="Jobs").wait_for()
    cookie = next(c for c in page.context.cookies() if c["name"] == "photo_restore_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"


def test_finished_job_shows_before_and_after_and_the_slider_moves(
    live: LiveServer, rdb: redis.Redis, page: Any
) -> None:
    drop(live.settings.data_dir, "grandma.jpg", old_photo_bytes())
    job = done_job(rdb, "grandma.jpg")
    sign_in(page, live)
    page.get_by_role("link", name="grandma.jpg").wait_for()
    page.wait_for_function(ALL_LOADED, arg="#job-rows img")
    page.get_by_role("link", name="grandma.jpg").click()
    page.wait_for_url(f"**/jobs/{job['id']}")
    for alt in ("Before (the original scan)", "After restoration"):
        img = page.get_by_role("img", name=alt).first
        wait_for(
            lambda img=img: img.evaluate("i => i.complete && i.naturalWidth > 0"),
            10,
            f"{alt} image",
        )
    slider = page.get_by_role("slider", name="Before / after split")
    assert slider.get_attribute("aria-valuenow") == "50"
    box = page.locator("#compare").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    assert abs(float(slider.get_attribute("aria-valuenow")) - 25) < 1.5
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert abs(float(slider.get_attribute("aria-valuenow")) - 70) < 1.5
    slider.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert abs(float(slider.get_attribute("aria-valuenow")) - 68) < 1.5
    page.keyboard.press("Home")
    assert slider.get_attribute("aria-valuenow") == "0"
    page.keyboard.press("End")
    assert slider.get_attribute("aria-valuenow") == "100"
    slider.focus()
    for _ in range(5):
        page.keyboard.press("PageDown")
    assert slider.get_attribute("aria-valuenow") == "50"
    # Steps are listed with their images and the timeline names each one.
    assert page.locator("#timeline tr").count() == len(job["steps"])
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.evaluate("document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("button", name="Side by side").click()
    page.get_by_role("button", name="1:1 zoom").click()
    for pane in ("#side-before", "#side-after"):
        page.locator(pane).evaluate("i => i.decode()")
    page.locator("#pane-before").evaluate("p => { p.scrollLeft = 40; p.scrollTop = 30; }")
    wait_for(lambda: page.locator("#pane-after").evaluate("p => p.scrollLeft > 0"), 5, "synced pan")


def test_crop_and_rerun_give_a_new_version(live: LiveServer, rdb: redis.Redis, page: Any) -> None:
    drop(live.settings.data_dir, "wedding.jpg")
    first = done_job(rdb, "wedding.jpg")
    first_width = first["size"][0]
    sign_in(page, live)
    page.goto(f"{live.url}/jobs/{first['id']}")
    page.get_by_label("left").fill("20")
    page.get_by_label("left").dispatch_event("input")
    page.get_by_role("button", name="Rotate 90° counter-clockwise").click()
    page.get_by_role("button", name="Rotate 90° clockwise").click()
    edits = json.loads(page.locator("#edit-canvas").get_attribute("data-edits"))
    assert edits == [{"op": "crop", "params": {"left": 0.2, "top": 0, "right": 1, "bottom": 1}}]
    page.get_by_role("button", name="Re-run").click()
    page.wait_for_url(lambda url: "/jobs/" in url and first["id"] not in url)
    new_id = page.url.rsplit("/", 1)[-1]
    second = wait_job(rdb, lambda j: j["id"] == new_id and j["status"] == "done")
    assert second["parent"] == first["id"]
    assert second["edits"] == edits
    assert second["steps"][0]["label"] == "edit: crop"
    assert abs(second["size"][0] - first_width * 0.8) <= 4
    with Image.open(live.settings.data_dir / "Family" / "restored" / "wedding.jpg") as im:
        assert abs(im.width - first_width * 0.8) <= 4
    original = live.settings.data_dir / INBOX / "wedding.jpg"
    assert Image.open(original).size == (480, 360)  # the original is never baked
    page.get_by_role("status").filter(has_text="done").or_(
        page.locator("#job-status", has_text="to review")
    ).first.wait_for()


def test_approve_keeps_and_reject_deletes_and_is_not_redone(
    live: LiveServer, rdb: redis.Redis, page: Any
) -> None:
    restored = live.settings.data_dir / "Family" / "restored"
    drop(live.settings.data_dir, "keep.jpg")
    drop(live.settings.data_dir, "bad.jpg", scan_bytes(seed=9))
    keep, bad = done_job(rdb, "keep.jpg"), done_job(rdb, "bad.jpg")
    sign_in(page, live)
    page.goto(f"{live.url}/jobs/{keep['id']}")
    page.get_by_role("button", name="Approve (keep)").click()
    page.locator("#job-decision", has_text="approved").wait_for()
    assert json.loads(rdb.get("photo-restore:job:" + keep["id"]))["decision"] == "approved"
    assert (restored / "keep.jpg").exists()

    page.goto(f"{live.url}/jobs/{bad['id']}")
    page.get_by_role("button", name="Reject (delete the result)").click()
    page.locator("#job-decision", has_text="rejected").wait_for()
    assert not (restored / "bad.jpg").exists()
    assert (live.settings.data_dir / INBOX / "bad.jpg").exists()
    record = json.loads(rdb.get(JOB_KEY + bad["id"]))
    assert record["decision"] == "rejected"
    settled = json.loads(rdb.hget(LEDGER_KEY, record["identity"]))
    assert settled["taken"] == record["version"]  # the watcher knows this version is handled
    time.sleep(live.settings.poll_interval * 4)  # several polls: nothing is redone
    assert not (restored / "bad.jpg").exists()
    assert len([j for j in all_jobs(rdb) if j["source"] == bad["source"]]) == 1


def test_a_failed_job_shows_its_reason(live: LiveServer, rdb: redis.Redis, page: Any) -> None:
    drop(live.settings.data_dir, "x.jpg", b"this is not a photo at all\n" * 20)
    failed = wait_job(rdb, lambda j: j["status"] == "failed")
    sign_in(page, live)
    page.locator("#filters").get_by_role("button", name="Failed").click()
    row = page.locator(f'tr[data-id="{failed["id"]}"]')
    row.locator(".reason").wait_for()
    assert failed["error"]
    assert failed["error"][:30] in row.inner_text()
    row.get_by_role("link", name="x.jpg").click()
    assert failed["error"][:30] in page.get_by_role("alert").inner_text()


def test_an_upload_from_the_computer_starts_a_job(
    live: LiveServer, rdb: redis.Redis, page: Any, tmp_path: Path
) -> None:
    local = tmp_path / "from-the-attic.jpg"
    local.write_bytes(scan_bytes(seed=3))
    sign_in(page, live)
    page.get_by_role("link", name="Files").click()
    page.get_by_role("heading", name="/Family/to-restore").wait_for()
    page.get_by_label("Upload scans into this folder").set_input_files(str(local))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_text("from-the-attic.jpg").first.wait_for()
    job = wait_job(rdb, lambda j: j["source"].endswith("from-the-attic.jpg"))
    assert job["origin"] == "upload"
    assert (
        live.settings.data_dir / INBOX / "from-the-attic.jpg"
    ).read_bytes() == local.read_bytes()
    done_job(rdb, "from-the-attic.jpg")
    page.reload()
    page.locator(".entries .status").first.wait_for()
    page.wait_for_function(ALL_LOADED, arg=".entries img")
    page.goto(live.url + "/chains")


def test_progress_appears_without_reload(live: LiveServer, rdb: redis.Redis, page: Any) -> None:
    sign_in(page, live)
    page.locator("#live-state", has_text="live").wait_for()
    page.evaluate("window.__sameDocument = 'yes'")
    drop(live.settings.data_dir, "arrives-later.jpg")
    page.get_by_role("link", name="arrives-later.jpg").wait_for(timeout=30_000)
    row = page.locator("tr", has=page.get_by_role("link", name="arrives-later.jpg"))
    row.locator(".status-done").wait_for(timeout=40_000)
    assert page.evaluate("window.__sameDocument") == "yes"


def test_html_in_file_names_is_shown_as_text(live: LiveServer, rdb: redis.Redis, page: Any) -> None:
    name = "<img src=x onerror=window.__xss=1>.jpg"
    drop(live.settings.data_dir, name)
    job = wait_job(rdb, lambda j: j["source"].endswith(name) and j["status"] == "done")
    sign_in(page, live)
    page.get_by_role("link", name=name).wait_for()
    page.goto(f"{live.url}/jobs/{job['id']}")
    assert page.locator("#job-title").inner_text() == name
    page.goto(f"{live.url}/files")
    page.get_by_text(name).first.wait_for()
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
