"""Real WebDAV servers on loopback for tests and benches, plus a fault-injecting proxy.

    start_wsgidav(root)   wsgidav (PyPI) in a thread, Basic auth alice/secret, mounted at
                          /remote.php/dav/files/alice/ like ownCloud; no folder etags
    start_apache(root)    Debian's Apache mod_dav_fs as a foreground subprocess with a
                          generated config, at /dav/; folder etags (inode-size-mtime)
    FaultProxy(upstream)  forwards to a server; `fail(...)` makes the next N matching
                          requests answer a status (423, 429 + Retry-After, 503, 507, 401)
                          or drop the connection half-way through the answer; counts all
    CannedServer(body)    answers every request with one fixed body (hostile XML tests)

All helpers are synchronous and thread-backed so pytest fixtures of any scope, async tests
and the bench can share them. Each returns something with `.stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

APACHE_MODULES = Path("/usr/lib/apache2/modules")


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    """Block until something listens on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class DavServer:
    """A running server: `url` + `dav_path` is the files root, `root` its folder on disk."""

    name: str
    url: str
    root: Path
    dav_path: str | None = None
    user: str | None = None
    password: str | None = None
    folder_etags: bool = False
    _stop: list = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop the server and remove what it left."""
        for fn in reversed(self._stop):
            fn()
        self._stop.clear()


def wsgidav_app(root: Path, mount: str, user: str, password: str) -> Any:
    """A wsgidav WSGI app serving `root` at `mount`, with Basic auth for one user."""
    from wsgidav.wsgidav_app import WsgiDAVApp

    return WsgiDAVApp(
        {
            "provider_mapping": {mount: str(root)},
            "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
            "http_authenticator": {
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "verbose": 0,
            "logging": {"enable": False, "enable_loggers": []},
            "property_manager": True,
            "lock_storage": True,
            "dir_browser": {"enable": False},
        }
    )


def serve_wsgi(app: Any, name: str) -> tuple[int, Callable[[], None]]:
    """Serve a WSGI app with cheroot in a daemon thread; returns its port and a stop function."""
    from cheroot import wsgi

    port = free_port()
    server = wsgi.Server(("127.0.0.1", port), app, numthreads=8)
    server.prepare()
    thread = threading.Thread(target=server.serve, name=name, daemon=True)
    thread.start()
    wait_port(port)

    def _stop() -> None:
        server.stop()
        thread.join(5)

    return port, _stop


def start_wsgidav(root: Path, *, user: str = "alice", password: str = "secret") -> DavServer:
    """wsgidav + cheroot in a daemon thread, with Basic auth."""
    mount = f"/remote.php/dav/files/{user}"
    port, stop = serve_wsgi(wsgidav_app(root, mount, user, password), "wsgidav")
    return DavServer(
        "wsgidav",
        f"http://127.0.0.1:{port}",
        root,
        dav_path=mount + "/",
        user=user,
        password=password,
        _stop=[stop],
    )


APACHE_CONF = """\
ServerRoot "{base}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule alias_module {mods}/mod_alias.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule dav_module {mods}/mod_dav.so
LoadModule dav_fs_module {mods}/mod_dav_fs.so
User www-data
Group www-data
PidFile "{base}/httpd.pid"
ErrorLog "{base}/error.log"
LogLevel warn
TypesConfig /etc/mime.types
DavLockDB "{base}/lock/DavLock"
Timeout 30
KeepAlive On
MaxKeepAliveRequests 0
StartServers 1
ServerLimit 2
ThreadsPerChild 16
DocumentRoot "{root}"
Alias /dav "{root}"
<Directory "{root}">
    Dav On
    Options None
    AllowOverride None
    Require all granted
</Directory>
"""


def start_apache(root: Path | None = None) -> DavServer:
    """Apache 2.4 mod_dav_fs in the foreground on a free port, files under a temp folder.

    Apache drops root privileges to www-data, so the folder is made world-writable and lives
    under a world-traversable temp dir (pytest's tmp_path is 0700 and would not do).
    """
    base = Path(tempfile.mkdtemp(prefix="pr-apache-"))
    os.chmod(base, 0o755)
    data = root or base / "data"
    for d in (data, base / "lock"):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o777)
    if os.geteuid() == 0:
        shutil.chown(base / "lock", "www-data", "www-data")
    # Another process may take the port between free_port() and Apache's bind; then Apache
    # exits and wait_port would happily see the *other* server. Check ours is the one alive.
    for _attempt in range(5):
        port = free_port()
        conf = base / "httpd.conf"
        conf.write_text(APACHE_CONF.format(base=base, port=port, mods=APACHE_MODULES, root=data))
        proc = subprocess.Popen(
            ["apache2", "-f", str(conf), "-D", "FOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_port(port)
            time.sleep(0.2)
            if proc.poll() is None:
                break
        except RuntimeError:
            pass
        proc.kill()
        err = proc.communicate()[1].decode(errors="replace")
    else:
        log = (base / "error.log").read_text() if (base / "error.log").exists() else ""
        raise RuntimeError(f"apache did not start: {err}\n{log}")

    def _stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(base, ignore_errors=True)

    return DavServer(
        "apache", f"http://127.0.0.1:{port}/dav", data, folder_etags=True, _stop=[_stop]
    )


@dataclass
class Fault:
    """What to do to the next `count` requests whose method (and path part) match."""

    method: str
    count: int
    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    path: str | None = None


class FaultProxy:
    """A loopback HTTP/1.1 proxy in its own thread; one connection per request (no keep-alive).

    `log` holds (method, path, status) of every request seen, faults included, so tests can
    check retries and the bench can count requests.
    """

    def __init__(self, upstream: str) -> None:
        split = urlsplit(upstream)
        self.up_host = split.hostname or "127.0.0.1"
        self.up_port = split.port or 80
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        self.url = f"http://127.0.0.1:{self.port}" + split.path.rstrip("/")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def fail(
        self,
        method: str,
        count: int = 1,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        drop: bool = False,
        path: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `status`, or drop them mid-answer."""
        with self._lock:
            self.faults.append(Fault(method, count, status, retry_after, drop, path))

    def reset(self) -> None:
        """Forget faults and the log."""
        with self._lock:
            self.faults.clear()
            self.log.clear()

    def count(self, method: str | None = None) -> int:
        """Requests seen (of one method)."""
        with self._lock:
            return sum(1 for m, _, _ in self.log if method is None or m == method)

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.count > 0 and f.method == method and (f.path is None or f.path in path):
                    f.count -= 1
                    return f
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = [ln for ln in lines[1:] if ln]
            length = next(
                (
                    int(h.split(":", 1)[1])
                    for h in headers
                    if h.lower().startswith("content-length:")
                ),
                0,
            )
            body = await reader.readexactly(length) if length else b""
            fault = self._take(method, target)
            if fault is not None and fault.status is not None:
                extra = f"Retry-After: {fault.retry_after}\r\n" if fault.retry_after else ""
                msg = f"injected {fault.status}".encode()
                # Logged before the answer leaves: a client that got it may count it at once.
                self._record(method, target, fault.status)
                writer.write(
                    f"HTTP/1.1 {fault.status} Injected\r\n{extra}Content-Length: "
                    f"{len(msg)}\r\nConnection: close\r\n\r\n".encode()
                    + msg
                )
                await writer.drain()
                return
            kept = [h for h in headers if not h.lower().startswith(("connection:", "keep-alive"))]
            up_r, up_w = await asyncio.open_connection(self.up_host, self.up_port)
            up_w.write(
                "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1") + body
            )
            await up_w.drain()
            answer = await up_r.read()
            up_w.close()
            with contextlib.suppress(OSError):
                await up_w.wait_closed()
            status = int(answer.split(b" ", 2)[1]) if answer[:5] == b"HTTP/" else 0
            self._record(method, target, -status if fault else status)
            if fault is not None and fault.drop:
                writer.write(answer[: max(len(answer) // 2, 1)])
                await writer.drain()
                writer.transport.abort()
                return
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()

    def _record(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self.log.append((method, target, status))

    def stop(self) -> None:
        """Stop the loop and its thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class CannedServer:
    """Answers every request with one status and body (for hostile-server tests)."""

    def __init__(
        self, body: bytes, status: int = 207, content_type: str = "application/xml; charset=utf-8"
    ) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                outer.requests.append((self.command, self.path))
                code = 404 if self.path.endswith("status.php") else status
                data = b"" if code == 404 else body
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PROPFIND = do_PUT = do_MOVE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.requests: list[tuple[str, str]] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
