"""The dashboard's screenshots for the README and docs, taken in Debian's chromium.

Run through ./scripts/screenshots. Each picture shows a real state: scans are dropped into
the inbox, restored by the real worker, failed, uploaded and painted on as a person would.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from service.runtime.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.web.live import (  # noqa: E402
    CHROMIUM_ARGS,
    LiveServer,
    done_job,
    drop,
    make_settings,
    old_photo_bytes,
    scan_bytes,
    sign_in,
    wait_job,
)

# A function, not an expression: Playwright compiles an expression with eval, which the
# dashboard's CSP forbids, while polling for it.
ALL_LOADED = "selector => [...document.querySelectorAll(selector)].every(i => i.complete)"
CHROMIUM = Path("/usr/bin/chromium")


def shoot_login(page: Any, server: LiveServer, out: Path) -> None:
    """The sign-in form after a wrong password."""
    page.goto(server.url + "/login")
    page.get_by_label("Dashboard password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    page.screenshot(path=str(out / "login.png"))
    sign_in(page, server)


def shoot_jobs_and_review(page: Any, server: LiveServer, rdb: redis.Redis, out: Path) -> None:
    """The jobs list with a restored photo, then its review page with the slider moved."""
    drop(server.settings.data_dir, "grandma.jpg", old_photo_bytes())
    job = done_job(rdb, "grandma.jpg")
    page.goto(server.url + "/")
    page.get_by_role("link", name="grandma.jpg").wait_for()
    page.wait_for_function(ALL_LOADED, arg="#job-rows img")
    page.screenshot(path=str(out / "jobs.png"))
    page.get_by_role("link", name="grandma.jpg").click()
    page.wait_for_url(f"**/jobs/{job['id']}")
    for alt in ("Before (the original scan)", "After restoration"):
        page.get_by_role("img", name=alt).first.evaluate("i => i.decode()")
    slider = page.get_by_role("slider", name="Before / after split")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.evaluate("document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out / "review.png"))


def shoot_failed(page: Any, server: LiveServer, rdb: redis.Redis, out: Path) -> None:
    """The jobs list filtered to failures, each with its reason."""
    drop(server.settings.data_dir, "notes.jpg", b"this is not a photo at all\n" * 20)
    failed = wait_job(rdb, lambda j: j["status"] == "failed")
    page.goto(server.url + "/")
    page.locator("#filters").get_by_role("button", name="Failed").click()
    page.locator(f'tr[data-id="{failed["id"]}"] .reason').wait_for()
    page.screenshot(path=str(out / "failed.png"))


def shoot_files_and_chains(page: Any, server: LiveServer, rdb: redis.Redis, out: Path) -> None:
    """The files page after an upload from the computer, and the chains page."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "from-the-attic.jpg"
        local.write_bytes(scan_bytes(seed=3))
        page.goto(server.url + "/files")
        page.get_by_role("heading", name="/Family/to-restore").wait_for()
        page.get_by_label("Upload scans into this folder").set_input_files(str(local))
        page.get_by_role("button", name="Upload", exact=True).click()
        page.get_by_text("from-the-attic.jpg").first.wait_for()
    done_job(rdb, "from-the-attic.jpg")
    page.reload()
    page.locator(".entries .status").first.wait_for()
    page.wait_for_function(ALL_LOADED, arg=".entries img")
    page.screenshot(path=str(out / "files.png"))
    page.goto(server.url + "/chains")
    page.screenshot(path=str(out / "chains.png"))


def shoot_brush(page: Any, server: LiveServer, rdb: redis.Redis, out: Path) -> None:
    """The "keep the original here" brush with one stroke over the face."""
    drop(server.settings.data_dir, "face.jpg", old_photo_bytes(640))
    job = done_job(rdb, "face.jpg")
    page.goto(f"{server.url}/jobs/{job['id']}")
    page.get_by_role("img", name="After restoration").first.evaluate("i => i.decode()")
    page.get_by_role("button", name="Keep original here (paint)").click()
    canvas = page.get_by_role("img", name="Keep-original mask")
    canvas.wait_for()
    box = canvas.bounding_box()
    page.get_by_label("Brush size").fill("60")
    y = box["y"] + box["height"] * 0.28
    page.mouse.move(box["x"] + box["width"] * 0.42, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.58, y, steps=12)
    page.mouse.up()
    page.get_by_role("status").filter(has_text="Mask painted").wait_for()
    page.evaluate("document.querySelector('.modes').scrollIntoView()")
    page.screenshot(path=str(out / "brush.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print("scripts/screenshots: Debian's chromium is needed (apt install chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="photo-restore-shots-") as tmp:
        data = Path(tmp) / "data"
        (data / "Family" / "to-restore").mkdir(parents=True)
        with EmbeddedRedis(Path(tmp) / "state") as embedded:
            server = LiveServer(make_settings(data, redis_url=embedded.url)).start()
            rdb = redis.Redis.from_url(embedded.url)
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                    page.set_default_timeout(30_000)
                    shoot_login(page, server, args.out)
                    for shoot in (shoot_jobs_and_review, shoot_failed, shoot_files_and_chains):
                        shoot(page, server, rdb, args.out)
                    shoot_brush(page, server, rdb, args.out)
                    browser.close()
            finally:
                rdb.close()
                server.stop()
    print(f"screenshots written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
