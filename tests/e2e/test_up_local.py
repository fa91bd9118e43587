"""`photo-restore up` as a user runs it: no Redis, no ownCloud, no token — a local DATA_DIR.

The real command in a subprocess, its embedded Redis, its watcher and worker; the test only
drops files and reads folders and the JSON API.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import free_port
from tests.images import DATE_TAKEN, jpeg_with_exif, png_bomb, truncated_jpeg

NAMES = ["Oma & Opa (1958).jpg", "Hochzeit #3.jpg", "Ünser Haus – été.jpg", "plain.jpg"]
BAD = {
    "truncated.jpg": "truncated",
    "notes.jpg": "not an image",
    "empty.jpg": "empty",
    "bomb.png": "decompression bomb",
}


class Up:
    """A running `photo-restore up`."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HF_TOKEN")}
        env.update(
            DATA_DIR=str(data),
            PORT=str(port),
            POLL_INTERVAL="0.5",
            SETTLE_SECONDS="0.3",
            HF_HOME=str(data.parent / "hf"),
        )
        self.log = (data.parent / f"up-{time.monotonic_ns()}.log").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "up"],
            env=env,
            cwd=data.parent,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            if f"http://127.0.0.1:{port}/" in self.log.read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        raise AssertionError("up did not start:\n" + self.log.read())

    def jobs(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/jobs?limit=200") as r:
            return json.load(r)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def snapshot(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.slow
def test_up_restores_scans_fails_bad_ones_and_redoes_nothing(data: Path) -> None:
    port = free_port()
    up = Up(data, port)
    inbox = data / "Family" / "to-restore"
    inbox.mkdir(parents=True)
    digests = {}
    for i, name in enumerate(NAMES):
        jpeg_with_exif(inbox / name, orientation=6 if i == 0 else 1)
        digests[name] = hashlib.sha256((inbox / name).read_bytes()).hexdigest()
    (inbox / "colorize-me").mkdir()
    truncated_jpeg(inbox / "truncated.jpg")
    (inbox / "notes.jpg").write_text("just some text")
    (inbox / "empty.jpg").write_bytes(b"")
    png_bomb(inbox / "bomb.png")
    (inbox / "half-uploaded.jpg.part").write_bytes(b"\xff\xd8" + b"0" * 1000)
    out = data / "Family" / "restored"
    expected = [out / n for n in NAMES] + [out / f"{n}.failed.txt" for n in BAD]
    try:
        wait_for(lambda: all(p.exists() for p in expected))
        wait_for(lambda: up.jobs()["counts"]["done"] == len(NAMES))
        jobs = up.jobs()
        by_name = {j["name"]: j for j in jobs["jobs"]}
        for name, reason in BAD.items():
            assert by_name[name]["status"] == "failed"
            assert reason in by_name[name]["error"]
            assert reason in (out / f"{name}.failed.txt").read_text()
        assert "half-uploaded.jpg.part" not in by_name
        assert jobs["total"] == len(NAMES) + len(BAD)
        for name in NAMES:
            assert hashlib.sha256((inbox / name).read_bytes()).hexdigest() == digests[name]
            with Image.open(out / name) as im:
                assert im.getexif().get_ifd(0x8769).get(0x9003) == DATE_TAKEN
        with Image.open(out / NAMES[0]) as im:
            assert im.size == (240, 320)  # EXIF rotation applied, stored upright
        assert not [p for p in out.rglob(".restore-*")]
        before = snapshot(data / "Family")
    finally:
        assert up.stop() == 0
    assert not list((data / ".photo-restore").glob("*.sock"))

    # Up again over the same data: nothing is redone.
    up = Up(data, port)
    try:
        time.sleep(3)  # several poll intervals
        assert up.jobs()["counts"]["queued"] == 0
        assert up.jobs()["total"] == len(NAMES) + len(BAD)
    finally:
        assert up.stop() == 0
    assert snapshot(data / "Family") == before

    # Even with Redis's history gone, results newer than their originals mean: done.
    shutil.rmtree(data / ".photo-restore")
    up = Up(data, port)
    try:
        time.sleep(3)
        assert up.jobs()["total"] == 0
    finally:
        assert up.stop() == 0
    assert snapshot(data / "Family") == before
