"""A single webhook for a file, through the real `photo-restore up` on a real WebDAV server:
restored within about two settle periods, however long the poll interval.

Before: a triggered look never scheduled the second look a new file needs, so a scan
announced by one webhook was queued only at the next regular poll (84.6 s later).
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fakerouter import FakeRouter
from tests.faults.harness import Outcome, Service, dav_env, drop_scans, free_port, wait_until
from tests.servers import DavServer

pytestmark = pytest.mark.slow
SECRET = "fault-test-secret"
SETTLE = 1.0


def post(port: int, route: str, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{route}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Webhook-Secret": SECRET},
        method="POST",
    )
    with urllib.request.urlopen(request) as r:
        return int(r.status)


def done(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/jobs") as r:
        return [j["status"] for j in json.load(r)["jobs"]] == ["done"]


def event(kind: str, storage_path: str) -> tuple[str, dict]:
    if kind == "generic":
        return "/webhooks/files", {"path": storage_path, "event": "created"}
    # A scan moved into the inbox in Nextcloud: the event names source and target.
    return "/webhooks/nextcloud", {
        "event": {
            "class": "OCP\\Files\\Events\\Node\\NodeRenamedEvent",
            "source": {"id": 7, "path": "/alice/files/Desktop/scan.jpg"},
            "target": {"id": 7, "path": "/alice/files" + storage_path},
        },
        "user": {"uid": "alice"},
        "time": 1,
    }


@pytest.mark.parametrize("kind", ["generic", "nextcloud-rename"])
def test_one_webhook_is_enough_for_a_restore_whatever_the_poll_interval(
    kind: str,
    wsgidav: DavServer,
    top: Path,
    router: FakeRouter,
    tmp_path: Path,
    recovered: list[str],
) -> None:
    router.delay = 0.1
    port = free_port()
    env = dav_env(
        wsgidav,
        top,
        router,
        tmp_path / "data",
        PORT=str(port),
        WEBHOOK_SECRET=SECRET,
        POLL_INTERVAL="600",
        SETTLE_SECONDS=str(SETTLE),
    )
    up = Service("up", ["up"], env, tmp_path)
    try:
        wait_until(lambda: "watching 1 inbox" in up.log(), "the first (and only) poll")
        drop_scans(top / "Family" / "to-restore", ["scan.jpg"])
        storage_path = (
            "/" + (top / "Family/to-restore/scan.jpg").relative_to(wsgidav.root).as_posix()
        )
        sent = time.monotonic()
        assert post(port, *event(kind, storage_path)) == 202
        # The next regular poll is 600 s away: only the trigger's own settle look can do it.
        restored = wait_until(lambda: done(port), "the scan restored", guard=120)
        recovered.append(
            f"one {kind} webhook: restored {restored - sent:.1f} s after it "
            f"(SETTLE_SECONDS={SETTLE:g}, POLL_INTERVAL=600; was: the next regular poll)"
        )
    finally:
        assert up.stop() == 0, up.log()
    assert Outcome.of(top / "Family" / "restored").results == ["scan.jpg"]
