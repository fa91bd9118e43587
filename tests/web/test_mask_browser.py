"""The damage mask on the review page in real Chromium: shown in red over the aligned "before",
corrected with the brush (add, erase), and the corrections sent with the re-run as the
`damage_mask` edit, which the re-run's repair step applies."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from PIL import Image

from service.constants import PREVIEW_KEY
from tests.damage_op import BOX, CHAIN, models_with_mask_chain
from tests.web.live import LiveServer, done_job, drop, scan_bytes, sign_in, wait_for, wait_job

pytestmark = pytest.mark.browser
PNG_URL = "data:image/png;base64,"
INSIDE = ((BOX[0] + BOX[2]) / 2, (BOX[1] + BOX[3]) / 2)  # the stand-in detector's box
ADDED = (0.7, 0.7)  # where the test paints more damage


@pytest.fixture
def live(live_factory: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    """The app whose default chain runs the stand-in damage detector."""
    return live_factory(models_file=models_with_mask_chain(tmp_path), default_chain=CHAIN)


def shown(canvas: Any, at: tuple[float, float]) -> list[int]:
    """The overlay's RGBA at a point given as fractions of the image."""
    rgba: list[int] = canvas.evaluate(
        """(c, p) => Array.from(c.getContext('2d')
             .getImageData(Math.floor(p[0] * c.width), Math.floor(p[1] * c.height), 1, 1).data)""",
        list(at),
    )
    return rgba


def stroke(page: Any, box: dict[str, float], y: float, x0: float, x1: float) -> None:
    """Drag the mouse across the overlay, coordinates as fractions of the image."""
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y, steps=12)
    page.mouse.up()


def decoded(url: str) -> np.ndarray:
    """A brush layer as sent: its alpha (what the server counts as painted)."""
    assert url.startswith(PNG_URL)
    with Image.open(io.BytesIO(base64.b64decode(url[len(PNG_URL) :]))) as im:
        assert im.format == "PNG"
        return np.asarray(im.getchannel("A"))


def at(mask: np.ndarray, p: tuple[float, float]) -> int:
    h, w = mask.shape
    return int(mask[int(p[1] * h), int(p[0] * w)])


def paint_corrections(page: Any) -> Any:
    """Show the mask, add a patch and erase part of the detector's box; the overlay canvas."""
    toggle = page.get_by_role("button", name="Show damage mask")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    canvas = page.get_by_role("img", name="Damage mask over the original")
    canvas.wait_for()
    wait_for(lambda: shown(canvas, INSIDE)[3] > 0, 10, "the detector's mask in the overlay")
    red, green, _, _ = shown(canvas, INSIDE)
    assert red > 200
    assert green < 60
    assert shown(canvas, ADDED)[3] == 0
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.get_by_label("Size of the mask brush").fill("30")
    stroke(page, box, ADDED[1], ADDED[0] - 0.05, ADDED[0] + 0.05)
    page.get_by_role("button", name="Erase from mask").click()
    stroke(page, box, INSIDE[1], BOX[0] - 0.05, BOX[2] + 0.05)
    status = page.get_by_role("status").filter(has_text="Mask corrected")
    assert "2 strokes" in status.inner_text()
    assert shown(canvas, ADDED)[3] > 0
    assert shown(canvas, INSIDE)[3] == 0
    return canvas


def test_the_damage_mask_is_shown_corrected_and_sent_with_the_rerun(
    live: LiveServer, rdb: redis.Redis, page: Any
) -> None:
    drop(live.settings.data_dir, "cracked.jpg", scan_bytes(800, 600))
    first = done_job(rdb, "cracked.jpg")
    assert first["damage_mask"] is True
    sign_in(page, live)
    page.goto(f"{live.url}/jobs/{first['id']}")
    before = page.get_by_role("img", name="under the damage mask")
    wait_for(lambda: before.evaluate("i => i.complete && i.naturalWidth > 0"), 10, "the before")
    assert "/image/aligned" in before.get_attribute("src")
    canvas = paint_corrections(page)
    size = canvas.evaluate("c => [c.height, c.width]")
    assert size == before.evaluate("i => [i.naturalHeight, i.naturalWidth]")

    with page.expect_request(lambda r: r.url.endswith("/rerun") and r.method == "POST") as sent:
        page.get_by_role("button", name="Re-run").click()
    edits = [e for e in sent.value.post_data_json["edits"] if e["op"] == "damage_mask"]
    assert len(edits) == 1
    add, erase = decoded(edits[0]["params"]["add"]), decoded(edits[0]["params"]["erase"])
    assert list(add.shape) == list(erase.shape) == size  # the view's own size
    assert at(add, ADDED) == 255
    assert at(add, INSIDE) == 0
    assert at(erase, INSIDE) == 255
    assert at(erase, ADDED) == 0

    page.wait_for_url(lambda url: "/jobs/" in url and first["id"] not in url)
    new_id = page.url.rsplit("/", 1)[-1]
    second = wait_job(rdb, lambda j: j["id"] == new_id and j["status"] in ("done", "failed"))
    assert second["status"] == "done", second.get("error")
    response = page.request.get(f"{live.url}/api/jobs/{new_id}/image/mask")
    assert response.ok
    with Image.open(io.BytesIO(response.body())) as im:
        saved = np.asarray(im.convert("L"))
    assert at(saved, ADDED) == 255  # the repair step took the corrections
    assert at(saved, INSIDE) == 0
    assert at(saved, (BOX[0] + 0.03, BOX[3] - 0.03)) == 255  # the rest of the box stays

    # The new job starts from its corrections: shown as such, and sent again unless cleared.
    page.get_by_role("status").filter(has_text="Mask corrected").wait_for()
    page.get_by_role("button", name="Show damage mask").click()
    page.get_by_role("button", name="Clear corrections").click()
    assert not page.get_by_role("status").filter(has_text="Mask corrected").count()
    page.get_by_role("button", name="Show damage mask").click()
    assert page.get_by_role("img", name="Damage mask over the original").is_hidden()

    # A mask preview that expired says so, and its job's corrections still go with a re-run.
    rdb.delete(f"{PREVIEW_KEY}{new_id}:mask")
    context = page.context.browser.new_context()  # nothing cached
    try:
        fresh = context.new_page()
        sign_in(fresh, live)
        fresh.goto(f"{live.url}/jobs/{new_id}")
        note = fresh.get_by_role("status").filter(has_text="has expired")
        note.wait_for()
        assert "earlier corrections go with the re-run" in note.inner_text()
        assert fresh.get_by_role("button", name="Show damage mask").is_disabled()
    finally:
        context.close()
