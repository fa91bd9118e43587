"""What the merge found, on the dashboard in real Chromium: a model (the fake router's) that
swapped the face of the person in the photo puts the job in review; the review page says why,
shows that face boxed and close up, and its timeline shows the merge's drift estimate and face
scores; the jobs list shows the reason, and the chain pickers the calls and cost of a chain."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from PIL import Image

from tests.fakerouter import FakeRouter
from tests.pipeline.pipeline_photos import photo
from tests.web.live import LiveServer, done_job, drop, old_photo_bytes, sign_in, wait_for

pytestmark = pytest.mark.browser
TOKEN = "hf_browser_test_token_123"
FACE = (264, 98, 142, 142)  # the astronaut's face in a 768-px picture: x, y, w, h


def face_swapped(data: bytes) -> bytes:
    """The picture as it was sent, with someone else's face where the astronaut's was."""
    with Image.open(io.BytesIO(data)) as sent:
        out = sent.convert("RGB")
    f = out.width / 768
    x, y, w, h = (round(v * f) for v in FACE)
    stranger = photo("camera").convert("RGB").crop((190, 40, 330, 180)).resize((w, h))
    out.paste(stranger, (x, y))
    buf = io.BytesIO()
    out.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    with FakeRouter(answer=face_swapped) as r:
        yield r


def test_a_changed_face_is_shown_with_its_score_and_the_drift_in_the_timeline(
    live_factory: Callable[..., LiveServer], router: FakeRouter, rdb: redis.Redis, page: Any
) -> None:
    live = live_factory(
        hf_token=TOKEN, hf_router_url=router.url, hf_endpoint=router.url, default_chain="restore"
    )
    drop(live.settings.data_dir, "grandpa.jpg", old_photo_bytes(1400))
    job = done_job(rdb, "grandpa.jpg")
    assert router.submits() == 1
    assert any("a face changed" in r for r in job["review"]), job["review"]
    sign_in(page, live)
    row = page.locator("tr", has=page.get_by_role("link", name="grandpa.jpg"))
    wait_for(lambda: "Needs a look" in row.inner_text(), 10, "the reason in the jobs list")

    page.goto(f"{live.url}/jobs/{job['id']}")
    page.get_by_role("heading", name="Why this job needs a look").wait_for()
    reasons = page.locator("#review-list li").all_inner_texts()
    assert any(
        "a face changed more than the 'balanced' fidelity level allows" in r for r in reasons
    )
    close_up = page.get_by_role("img", name="Close-up of the changed face")
    assert close_up.count() == 1
    assert page.locator(".face-box.changed").count() == 1
    merge_row = page.locator("#timeline tr").filter(has_text="merge_detail")
    text = merge_row.inner_text()
    assert "Drift: small, corrected" in text
    assert "Faces: #1 score" in text
    assert "(changed)" in text

    chain = page.get_by_label("Chain")
    option = chain.locator("option[value='restore']").inner_text()
    assert "1 model call · ≈ $0.030" in option
