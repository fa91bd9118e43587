"""A loopback HTTP server whose answers a test writes as a function, for WebDAV and event
stream answers no real server would give. It counts the bytes it managed to send, so a test
can prove the client stopped reading early."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable

Answer = Callable[["Handler"], None]


def _sysctl_max(name: str, default: int) -> int:
    try:
        return int(open(f"/proc/sys/net/ipv4/{name}").read().split()[-1])
    except (OSError, ValueError, IndexError):
        return default


def kernel_slack() -> int:
    """Bytes a server can have 'sent' that the client never read: what the kernel buffers on
    both ends of a loopback connection (receive buffers autotune up to tcp_rmem's maximum, 32 MiB
    on some machines), plus a little. A test that proves the client stopped reading early must
    allow this much, or it fails whenever the buffers grow."""
    return _sysctl_max("tcp_rmem", 6 << 20) + _sysctl_max("tcp_wmem", 4 << 20) + (1 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    """Hands each request to the server's `answer` function."""

    server: HostileHTTPServer
    protocol_version = "HTTP/1.1"

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.owner.requests.append((self.command, self.path))
        # The client may stop reading half-way: what the tests want to see.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.owner.answer(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_HEAD = do_PROPFIND = do_MOVE = do_MKCOL = _any
    do_DELETE = _any

    def send(self, data: bytes) -> None:
        """Write and count."""
        self.wfile.write(data)
        self.wfile.flush()
        self.server.owner.sent += len(data)

    def chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk."""
        self.send(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def log_message(self, *args: object) -> None:
        pass


class HostileHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: Hostile


class Hostile:
    """Serve `answer` on 127.0.0.1 until `stop()`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sent = 0
        self.requests: list[tuple[str, str]] = []
        self._server = HostileHTTPServer(("127.0.0.1", 0), Handler)
        self._server.owner = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Shut down."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
