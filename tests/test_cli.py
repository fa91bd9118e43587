"""The `photo-restore` command as a user types it: exit codes and what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.images import jpeg_with_exif


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HF_TOKEN")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_chains_lists_every_chain_and_what_can_run(tmp_path: Path) -> None:
    done = run("chains", cwd=tmp_path, COLUMNS="200")
    assert done.returncode == 0, done.stderr
    for name in ("classic", "restore", "restore-color", "faces", "upscale"):
        assert name in done.stdout
    assert "needs HF_TOKEN" in done.stdout
    assert "repair_damage" in done.stdout


def test_restore_writes_results_and_reports_failures(tmp_path: Path) -> None:
    good = tmp_path / "good photo.jpg"
    jpeg_with_exif(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    done = run("restore", str(good), str(bad), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 1
    assert "bad.jpg: not an image" in done.stderr
    with Image.open(tmp_path / "out" / "good photo.jpg") as im:
        assert im.size == (320, 240)
    ok = run("restore", str(good), "-o", str(tmp_path / "out2"), cwd=tmp_path)
    assert ok.returncode == 0
    assert (tmp_path / "out2" / "good photo.jpg").exists()


def test_usage_and_configuration_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    assert run("frobnicate", cwd=tmp_path).returncode == 2
    remote = run("restore", "missing.jpg", cwd=tmp_path)
    assert remote.returncode == 2
    assert "missing.jpg: no such file" in remote.stderr
    (tmp_path / "scan.jpg").write_bytes(b"x")
    no_token = run("restore", "scan.jpg", "--chain", "restore", cwd=tmp_path)
    assert no_token.returncode == 2
    assert "needs HF_TOKEN" in no_token.stderr
    (tmp_path / "models.toml").write_text('[chains.classic]\nsteps = "oops"\n')
    bad = run("chains", cwd=tmp_path, MODELS_FILE=str(tmp_path / "models.toml"))
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "chains.classic.steps" in bad.stderr


def test_check_reports_storage_inboxes_and_token(tmp_path: Path) -> None:
    (tmp_path / "data/Family/to-restore").mkdir(parents=True)
    done = run("check", cwd=tmp_path, WEBHOOK_SECRET="abc")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/Family/to-restore" in done.stdout
    assert "no HF_TOKEN" in done.stdout
    assert "/webhooks/nextcloud" in done.stdout


def test_check_fails_when_ownCloud_cannot_be_reached(tmp_path: Path) -> None:
    done = run(
        "check",
        cwd=tmp_path,
        OWNCLOUD_URL="http://127.0.0.1:9",
        OWNCLOUD_USER="a",
        OWNCLOUD_PASSWORD="b",
    )
    assert done.returncode == 1
    assert "FAIL" in done.stdout
