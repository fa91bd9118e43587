"""The service against real WebDAV servers (wsgidav and Apache mod_dav), through a fault proxy.

Watcher, queue (real Redis + arq worker in burst mode) and restore task all run for real; only
the files are dropped straight into the server's folder, as a sync client would leave them.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from service.config.settings import Settings
from service.runtime.services import Services
from tests.e2e.conftest import REDIS, poll_and_work, watcher_for
from tests.images import DATE_TAKEN, jpeg_with_exif
from tests.servers import DavServer, FaultProxy, start_apache, start_wsgidav

NAMES = [
    "plain.jpg",
    "with space.jpg",
    "hash#1.jpg",
    "100% real.jpg",
    "Tom & Jerry.jpg",
    unicodedata.normalize("NFC", "été.jpg"),
    unicodedata.normalize("NFD", "Ärger.jpg"),
]


@pytest.fixture(scope="module", params=["wsgidav", "apache"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DavServer]:
    srv = (
        start_wsgidav(tmp_path_factory.mktemp("dav"))
        if request.param == "wsgidav"
        else start_apache()
    )
    yield srv
    srv.stop()


@pytest.fixture
async def services(
    server: DavServer,
    proxy: FaultProxy,
    redis: Redis,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Services]:
    top = f"t-{uuid.uuid4().hex[:10]}"
    (server.root / top).mkdir()
    os.chmod(server.root / top, 0o777)
    settings = Settings(
        owncloud_url=proxy.url,
        owncloud_user=server.user,  # type: ignore[arg-type]
        owncloud_password=server.password,
        owncloud_dav_path=server.dav_path,
        watch_root=f"/{top}",
        data_dir=tmp_path,
        retry_base_seconds=0.1,
        settle_seconds=0,
    )
    svc = await Services.open(settings, REDIS)
    svc.top = server.root / top  # type: ignore[attr-defined]
    yield svc
    await svc.aclose()


def open_dirs(root: Path, folder: Path) -> None:
    """mkdir -p, world-writable: Apache runs as www-data, the test as root."""
    folder.mkdir(parents=True, exist_ok=True)
    while folder != root.parent:
        os.chmod(folder, 0o777)
        folder = folder.parent


def drop(root: Path, rel: str) -> str:
    path = root / rel
    open_dirs(root, path.parent)
    jpeg_with_exif(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_new_scans_come_back_restored_with_their_names_and_folders(
    services: Services,
) -> None:
    top: Path = services.top  # type: ignore[attr-defined]
    digests = {n: drop(top, f"Family/to-restore/{n}") for n in NAMES}
    digests["1950s/beach/sub dir.jpg"] = drop(top, "Family/to-restore/1950s/beach/sub dir.jpg")
    digests["upscale/oma.jpg"] = drop(top, "Family/to-restore/upscale/oma.jpg")
    await poll_and_work(services)
    out = top / "Family" / "restored"
    jobs, total = await services.store.list(limit=100)
    assert {j.status for j in jobs} == {"done"}, [(j.name, j.status, j.error, j.note) for j in jobs]
    for rel, digest in digests.items():
        assert (out / rel).is_file(), (rel, sorted(p.name for p in out.rglob("*")))
        assert hashlib.sha256((top / "Family/to-restore" / rel).read_bytes()).hexdigest() == digest
    assert not [p for p in top.rglob("*") if p.name.startswith(".restore-")]
    jobs, total = await services.store.list(limit=100)
    assert total == len(digests)
    assert {j.status for j in jobs} == {"done"}
    chains = {j.source.rsplit("/", 1)[-1]: j.chain for j in jobs}
    assert chains["oma.jpg"] == "upscale"
    assert chains["plain.jpg"] == "classic"
    from PIL import Image

    with Image.open(out / "plain.jpg") as im:
        assert im.getexif().get_ifd(0x8769).get(0x9003) == DATE_TAKEN
    # Polling again redoes nothing.
    await poll_and_work(services)
    assert (await services.store.count()) == len(digests)


async def test_a_growing_file_is_not_taken(services: Services) -> None:
    top: Path = services.top  # type: ignore[attr-defined]
    path = top / "F/to-restore/scan.jpg"
    open_dirs(top, path.parent)
    path.write_bytes(b"\xff\xd8" + b"1" * 1000)
    watcher = watcher_for(services)
    for i in range(3):
        with path.open("ab") as fh:
            fh.write(b"2" * (100 * (i + 1)))
        report = await watcher.poll_once(full=True)
        assert report.pending == 1
        assert not report.queued
    report = await watcher.poll_once(full=True)
    assert len(report.queued) == 1


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("PUT", {"status": 423}),
        ("MOVE", {"status": 503}),
        ("PUT", {"status": 429, "retry_after": "1"}),
        ("GET", {"drop": True}),
    ],
)
async def test_transient_faults_are_retried_and_nothing_is_duplicated(
    services: Services, proxy: FaultProxy, method: str, kwargs: dict
) -> None:
    top: Path = services.top  # type: ignore[attr-defined]
    digest = drop(top, "F/to-restore/a.jpg")
    proxy.fail(method, 1, **kwargs)
    await poll_and_work(services)
    assert (top / "F/restored/a.jpg").is_file()
    assert sorted(p.name for p in (top / "F/restored").iterdir()) == ["a.jpg"]
    assert hashlib.sha256((top / "F/to-restore/a.jpg").read_bytes()).hexdigest() == digest
    jobs, total = await services.store.list()
    assert total == 1
    assert jobs[0].status == "done"
    assert any(status >= 400 or status == 0 for m, _, status in proxy.log if m == method)


async def test_quota_exceeded_fails_the_job_with_a_clear_reason(
    services: Services, proxy: FaultProxy
) -> None:
    top: Path = services.top  # type: ignore[attr-defined]
    digest = drop(top, "F/to-restore/q.jpg")
    proxy.fail("PUT", 1, status=507)
    await poll_and_work(services)
    jobs, _ = await services.store.list()
    assert jobs[0].status == "failed"
    assert "quota" in (jobs[0].error or "").lower()
    assert not (top / "F/restored/q.jpg").exists()
    assert "quota" in (top / "F/restored/q.jpg.failed.txt").read_text().lower()
    assert hashlib.sha256((top / "F/to-restore/q.jpg").read_bytes()).hexdigest() == digest


def test_check_reports_the_server_its_root_and_the_inboxes(server: DavServer) -> None:
    import subprocess
    import sys

    top = f"c-{uuid.uuid4().hex[:8]}"
    open_dirs(server.root, server.root / top / "Family" / "to-restore")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HF_TOKEN")}
    env.update(
        OWNCLOUD_URL=server.url,
        WATCH_ROOT=f"/{top}",
        WEBHOOK_SECRET="s",
        OWNCLOUD_USER=server.user or "",
        OWNCLOUD_PASSWORD=server.password or "",
    )
    if server.dav_path:
        env["OWNCLOUD_DAV_PATH"] = server.dav_path
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "server" in out
    assert "files at" in out
    assert f"/{top}/Family/to-restore" in out
    assert "writable" in out
    assert "/webhooks/nextcloud" in out
