"""The review page's slider in real Chromium compares like with like: its "before" is the
original carried through the result's crop and straightening, so the pixel rows of the two
layers line up; the original as scanned, one click away, does not."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import redis
from PIL import Image, ImageDraw

from service.constants import PREVIEW_KEY
from tests.images import photo
from tests.web.live import LiveServer, done_job, drop, sign_in, wait_for

pytestmark = pytest.mark.browser


def tilted_print() -> bytes:
    """A print with dark dots on a grid, tilted 3° on a white scanner bed (JPEG)."""
    w, h = 1100, 800
    im = photo(w, h).point(lambda v: 130 + v // 8)
    draw = ImageDraw.Draw(im)
    for i, x in enumerate(range(150, w - 100, 230)):
        for j, y in enumerate(range(140, h - 100, 210)):
            r = 14 + ((i + j) % 3) * 4
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(20, 20, 20))
    tilted = im.rotate(3, expand=True, fillcolor=(250, 250, 250))
    bed = Image.new("RGB", (tilted.width + 120, tilted.height + 120), (250, 250, 250))
    bed.paste(tilted, (60, 60))
    buf = io.BytesIO()
    bed.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def layer(page: Any, key: str) -> np.ndarray:
    """The slider's box as shown with the split at one end: Home = all after, End = all before."""
    slider = page.get_by_role("slider", name="Before / after split")
    slider.focus()
    page.keyboard.press(key)
    page.evaluate("document.activeElement.blur()")
    shot = page.locator("#compare").screenshot()
    with Image.open(io.BytesIO(shot)) as im:
        return np.asarray(im.convert("L"), np.float32)


def dark(rows: np.ndarray) -> np.ndarray:
    """The dots: well below the picture's usual grey (the restoration moves every tone)."""
    level = (np.percentile(rows, 0.5) + np.median(rows)) / 2
    out: np.ndarray = rows < level
    return out


def rows_compared(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """Over pixel rows of both layers (away from the labels and the handle): how much of the
    dots lie on the same pixels (intersection over union), and the median row's best shift."""
    h, w = before.shape
    ys = [y for y in range(int(0.1 * h), int(0.9 * h), 3) if abs(y - h / 2) > 30]
    b, a = dark(before[ys, 6 : w - 6]), dark(after[ys, 6 : w - 6])
    overlap = float((a & b).sum() / max(1, (a | b).sum()))
    lags = []
    for rb, ra in zip(b, a, strict=True):
        if rb.sum() < 5 or ra.sum() < 5:
            continue
        score = [np.sum(rb & np.roll(ra, k)) for k in range(-40, 41)]
        lags.append(abs(int(np.argmax(score)) - 40))
    return overlap, float(np.median(lags)) if lags else 99.0


def test_the_slider_layers_line_up_for_a_cropped_and_straightened_scan(
    live: LiveServer, rdb: redis.Redis, page: Any
) -> None:
    drop(live.settings.data_dir, "tilted.jpg", tilted_print())
    job = done_job(rdb, "tilted.jpg")
    changed = {s["name"] for s in job["steps"] if s["status"] == "done"}
    assert {"remove_border", "deskew"} <= changed  # the result is cropped and straightened
    sign_in(page, live)
    page.goto(f"{live.url}/jobs/{job['id']}")
    before_img = page.get_by_role("img", name="Before (the original scan), in the result's frame")
    after_img = page.get_by_role("img", name="After restoration").first
    for img in (before_img, after_img):
        wait_for(lambda i=img: i.evaluate("i => i.complete && i.naturalWidth > 0"), 10, "a layer")
    assert "/image/aligned" in before_img.get_attribute("src")
    assert before_img.evaluate("i => [i.naturalWidth, i.naturalHeight]") == after_img.evaluate(
        "i => [i.naturalWidth, i.naturalHeight]"
    )
    overlap, lag = rows_compared(layer(page, "End"), layer(page, "Home"))
    assert overlap > 0.7
    assert lag <= 1

    page.get_by_role("button", name="Show the original as scanned").click()
    scanned = page.get_by_role("img", name="Before (the original scan), as scanned")
    wait_for(
        lambda: scanned.evaluate("i => i.src.includes('/image/source') && i.complete"),
        10,
        "the original as scanned",
    )
    overlap, lag = rows_compared(layer(page, "End"), layer(page, "Home"))
    assert overlap < 0.3  # without the alignment the two halves disagree
    assert (
        page.get_by_role("button", name="Show the original as scanned").get_attribute(
            "aria-pressed"
        )
        == "true"
    )

    # A job whose aligned preview is gone (it expired) shows the original as scanned, and says so.
    rdb.delete(f"{PREVIEW_KEY}{job['id']}:aligned")
    context = page.context.browser.new_context()  # nothing cached
    try:
        fresh = context.new_page()
        sign_in(fresh, live)
        fresh.goto(f"{live.url}/jobs/{job['id']}")
        shown = fresh.get_by_role("img", name="Before (the original scan), as scanned")
        wait_for(lambda: shown.evaluate("i => i.src.includes('/image/source')"), 10, "fallback")
        assert "No aligned original" in fresh.locator("#before-note").inner_text()
        assert fresh.get_by_role("button", name="Show the original as scanned").is_hidden()
    finally:
        context.close()
