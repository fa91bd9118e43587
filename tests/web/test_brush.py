"""The "keep the original here" brush in real Chromium: paint over the result, re-run, and the
new result has the original's pixels inside the mask and the old result everywhere else."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from PIL import Image, ImageFilter

from tests.web.live import (
    INBOX,
    LiveServer,
    done_job,
    drop,
    old_photo_bytes,
    sign_in,
    wait_for,
    wait_job,
)

pytestmark = pytest.mark.browser
PNG_URL = "data:image/png;base64,"


def fetch_image(page: Any, url: str) -> np.ndarray:
    """An image from the app (with the page's session) as a float RGB array."""
    response = page.request.get(url)
    assert response.ok, f"{url}: {response.status}"
    with Image.open(io.BytesIO(response.body())) as im:
        return np.asarray(im.convert("RGB"), np.float32)


def stroke(page: Any, rect: dict[str, float], y: float, x0: float, x1: float) -> None:
    """Drag the mouse across the image, coordinates as fractions of the shown image."""
    page.mouse.move(rect["x"] + rect["w"] * x0, rect["y"] + rect["h"] * y)
    page.mouse.down()
    page.mouse.move(rect["x"] + rect["w"] * x1, rect["y"] + rect["h"] * y, steps=12)
    page.mouse.up()


def paint_one_stroke(page: Any) -> dict[str, float]:
    """Paint over the face, take a second stroke back; where the image sits in the canvas."""
    after = page.get_by_role("img", name="After restoration").first
    wait_for(lambda: after.evaluate("i => i.complete && i.naturalWidth > 0"), 10, "the result")
    toggle = page.get_by_role("button", name="Keep original here (paint)")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    canvas = page.get_by_role("img", name="Keep-original mask")
    canvas.wait_for()
    # Where the image is drawn inside the canvas box (object-fit: contain).
    rect: dict[str, float] = canvas.evaluate(
        """c => {
          const r = c.getBoundingClientRect(), s = Math.min(r.width / c.width, r.height / c.height);
          return { x: r.left + (r.width - c.width * s) / 2,
                   y: r.top + (r.height - c.height * s) / 2,
                   w: c.width * s, h: c.height * s, nw: c.width, nh: c.height };
        }"""
    )
    assert (rect["nw"], rect["nh"]) == tuple(
        after.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    )
    page.get_by_label("Brush size").fill("60")
    stroke(page, rect, 0.28, 0.42, 0.58)  # over the face
    status = page.get_by_role("status").filter(has_text="Mask painted")
    assert "1 stroke" in status.inner_text()
    stroke(page, rect, 0.85, 0.05, 0.3)  # a second stroke, taken back
    assert "2 strokes" in status.inner_text()
    page.get_by_role("button", name="Undo last stroke").click()
    assert "1 stroke" in status.inner_text()
    return rect


def sent_mask(job: dict[str, Any], rect: dict[str, float]) -> Image.Image:
    """The one keep-original edit of a re-run: a PNG mask of the shown image's size."""
    keeps = [e for e in job["edits"] if e["op"] == "keep_original"]
    assert len(keeps) == 1
    assert keeps[0]["params"]["mask"].startswith(PNG_URL)
    raw = base64.b64decode(keeps[0]["params"]["mask"][len(PNG_URL) :])
    with Image.open(io.BytesIO(raw)) as im:
        assert im.format == "PNG"
        assert im.size == (rect["nw"], rect["nh"])
        return im.getchannel("A") if "A" in im.getbands() else im.convert("L")


def assert_kept_inside_only(
    result: np.ndarray, before: np.ndarray, mask: Image.Image, original_file: Path
) -> None:
    """The original's pixels inside the mask, the first result's everywhere else."""
    assert result.shape == before.shape
    mask = mask.resize((result.shape[1], result.shape[0]), Image.Resampling.BILINEAR)
    inside = np.asarray(mask.filter(ImageFilter.MinFilter(9))) > 200
    outside = np.asarray(mask.filter(ImageFilter.MaxFilter(41))) == 0  # feather, JPEG blocks
    assert inside.sum() > 500
    assert outside.mean() > 0.8
    diff = np.abs(result - before).mean(axis=2)
    assert diff[inside].mean() > 4, "the painted area still shows the restored pixels"
    assert diff[outside].mean() < 0.5
    assert np.percentile(diff[outside], 99.9) < 8
    with Image.open(original_file) as im:
        original = np.asarray(im.convert("RGB"), np.float32)
    if original.shape == result.shape:  # no crop or turn: the original is pixel-aligned
        assert np.abs(result - original).mean(axis=2)[inside].mean() < 3


def assert_the_mask_comes_back_with_the_new_job(page: Any, server: LiveServer, job_id: str) -> None:
    """The new job starts from its mask: shown again, and a new crop or turn gets a note."""
    page.goto(f"{server.url}/jobs/{job_id}")
    page.get_by_role("status").filter(has_text="Mask painted").wait_for()
    note = page.locator("#brush-frame-note")
    assert note.is_hidden()
    page.get_by_role("button", name="Rotate 90° clockwise").click()
    note.wait_for(state="visible")
    assert "new result's frame" in note.inner_text()
    page.get_by_role("button", name="Rotate 90° counter-clockwise").click()
    note.wait_for(state="hidden")
    page.get_by_role("button", name="Keep original here (paint)").click()
    canvas = page.get_by_role("img", name="Keep-original mask")
    shown = (
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data.some((v, i) => i % 4 === 3 && v > 0)"
    )
    wait_for(lambda: canvas.evaluate(shown), 5, "the previous mask on the canvas")
    page.get_by_role("button", name="Clear mask").click()
    assert not page.get_by_role("status").filter(has_text="Mask painted").count()


def test_painted_mask_keeps_the_original_there_and_nothing_else_changes(
    live: LiveServer, rdb: redis.Redis, page: Any
) -> None:
    drop(live.settings.data_dir, "face.jpg", old_photo_bytes(640))
    first = done_job(rdb, "face.jpg")
    sign_in(page, live)
    before = fetch_image(page, f"{live.url}/api/jobs/{first['id']}/file/result")
    page.goto(f"{live.url}/jobs/{first['id']}")
    rect = paint_one_stroke(page)
    page.get_by_role("button", name="Re-run").click()
    page.wait_for_url(lambda url: "/jobs/" in url and first["id"] not in url)
    new_id = page.url.rsplit("/", 1)[-1]
    wait_job(rdb, lambda j: j["id"] == new_id and j["status"] in ("done", "failed"))
    second = page.request.get(f"{live.url}/api/jobs/{new_id}").json()
    assert second["status"] == "done", second.get("error")
    mask = sent_mask(second, rect)
    result = fetch_image(page, f"{live.url}/api/jobs/{new_id}/file/result")
    assert_kept_inside_only(result, before, mask, live.settings.data_dir / INBOX / "face.jpg")
    assert_the_mask_comes_back_with_the_new_job(page, live, new_id)
