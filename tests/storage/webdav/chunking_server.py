"""The two chunked-upload protocols, served for real in front of a real wsgidav.

Neither Nextcloud nor oCIS can run here, so this WSGI front speaks each protocol as the
servers' own code does, and hands every other request to wsgidav (the files themselves):

- Nextcloud chunking v2 (nextcloud/server `apps/dav/lib/Upload/ChunkingV2Plugin.php`,
  `ChunkingPlugin.php`; documentation `developer_manual/client_apis/WebDAV/chunking.rst`):
  MKCOL `/remote.php/dav/uploads/<user>/<id>`, PUT chunks named 1…10000, MOVE `<id>/.file`,
  each with a `Destination` header; every chunk but the last at least 5 MiB; `OC-Total-Length`
  must match the assembled size (400); `X-OC-Mtime` sets the mtime; DELETE aborts.
- TUS 1.0.0 as oCIS serves it (tus/tusd `pkg/handler/unrouted_handler.go`, owncloud/reva
  `ocdav/tus.go`, oCIS `docs/apis/http/tus_upload.md`): POST on the parent collection with
  `Upload-Length` and `Upload-Metadata: filename <b64>[, mtime <b64>]` (either missing: 412,
  as reva answers), 201 with an absolute `Location`; PATCH with `Upload-Offset` (mismatch: 409)
  and `Content-Type: application/offset+octet-stream` (else 400, as tusd answers), 204 with
  the new offset; HEAD tells the offset. The file appears when the last byte arrives.

`faults` makes the next matching requests fail with a status; a TUS fault may first keep part
of the body, as a server does when a proxy times out mid-upload.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.servers import DavServer, serve_wsgi, wsgidav_app

USER, PASSWORD = "alice", "secret"
FILES = f"/remote.php/dav/files/{USER}/"
UPLOADS = f"/remote.php/dav/uploads/{USER}/"
MIN_CHUNK = 5 << 20  # NC v2: every chunk but the last (S3 multipart's minimum part size)
StartResponse = Callable[..., Any]


@dataclass
class Fault:
    """Answer the next `count` requests of `method` whose path contains `path` with `status`;
    `keep` bytes of a PATCH body are stored first."""

    method: str
    path: str
    status: int
    count: int = 1
    keep: int = 0


@dataclass
class Upload:
    """A TUS upload in progress."""

    target: Path
    length: int
    mtime: float | None
    data: bytearray = field(default_factory=bytearray)


class ChunkingFront:
    """WSGI app: the chunking protocols of Nextcloud and oCIS, wsgidav for everything else."""

    def __init__(self, root: Path, *, tus_max_chunk: int | None = None) -> None:
        self.root = root
        self.dav = wsgidav_app(root, FILES.rstrip("/"), USER, PASSWORD)
        self.tus_max_chunk = tus_max_chunk
        self.base_url = ""
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.faults: list[Fault] = []
        self.chunks: dict[str, dict[int, bytes]] = {}  # NC upload id -> chunk number -> bytes
        self.uploads: dict[str, Upload] = {}  # TUS id -> upload
        self._lock = threading.Lock()

    # -- dispatch ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        ours = path.startswith((UPLOADS, "/data/")) or method == "POST"
        if not ours:
            return self.dav(environ, start)  # type: ignore[no-any-return]
        headers = {
            k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        if "CONTENT_LENGTH" in environ:
            headers["Content-Length"] = environ["CONTENT_LENGTH"]
        self.log.append((method, path, headers))
        if not self._signed_in(headers):
            return self._answer(start, 401)
        body = environ["wsgi.input"].read(int(headers.get("Content-Length") or 0))
        with self._lock:
            fault = self._fault(method, path)
            if fault is not None:
                if fault.keep and path.startswith("/data/"):
                    self.uploads[path.rsplit("/", 1)[1]].data += body[: fault.keep]
                return self._answer(start, fault.status)
            if path.startswith(UPLOADS):
                return self._nextcloud(start, method, path, headers, body)
            return self._tus(start, method, path, headers, body)

    def _signed_in(self, headers: dict[str, str]) -> bool:
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return headers.get("Authorization") == f"Basic {expected}"

    def _fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and fault.method == method and fault.path in path:
                fault.count -= 1
                return fault
        return None

    @staticmethod
    def _answer(
        start: StartResponse, status: int, headers: dict[str, str] | None = None
    ) -> list[bytes]:
        start(f"{status} X", [*(headers or {}).items(), ("Content-Length", "0")])
        return [b""]

    def _disk(self, url: str) -> Path | None:
        """Where a files URL (a Destination) lives on disk, or None outside the files root."""
        path = urlsplit(url).path
        if not path.startswith(FILES):
            return None
        segments = [unquote(s) for s in path[len(FILES) :].split("/") if s]
        if any(s in (".", "..") for s in segments):
            return None
        return self.root.joinpath(*segments)

    # -- Nextcloud chunking v2 --------------------------------------------------------------
    def _nextcloud(
        self, start: StartResponse, method: str, path: str, h: dict[str, str], body: bytes
    ) -> list[bytes]:
        upload_id, _, name = path[len(UPLOADS) :].partition("/")
        target = self._disk(h.get("Destination", ""))
        if method == "DELETE":  # abort: no Destination needed
            return self._answer(start, 204 if self.chunks.pop(upload_id, None) is not None else 404)
        if target is None:
            return self._answer(start, 400)  # v2 needs Destination on MKCOL, PUT and MOVE
        if method == "MKCOL" and not name:
            if upload_id in self.chunks:
                return self._answer(start, 405)
            self.chunks[upload_id] = {}
            return self._answer(start, 201)
        chunks = self.chunks.get(upload_id)
        if chunks is None:
            return self._answer(start, 404)
        if method == "PUT":
            number = int(name) if name.isdigit() else -1
            if not 1 <= number <= 10000:
                return self._answer(start, 400)  # "Invalid chunk name, must be numeric…"
            chunks[number] = body
            return self._answer(start, 201)
        if method == "MOVE" and name == ".file":
            return self._assemble(start, upload_id, target, h)
        return self._answer(start, 405)  # reading intermediate uploads is not allowed

    def _assemble(
        self, start: StartResponse, upload_id: str, target: Path, h: dict[str, str]
    ) -> list[bytes]:
        parts = [self.chunks[upload_id][n] for n in sorted(self.chunks[upload_id])]
        if any(len(p) < MIN_CHUNK for p in parts[:-1]):
            return self._answer(start, 400)  # S3 refuses a part below 5 MiB but the last
        data = b"".join(parts)
        total = h.get("Oc-Total-Length")
        if total is not None and total != str(len(data)):
            return self._answer(start, 400)  # "Chunks on server do not sum up to …"
        if not target.parent.is_dir():
            return self._answer(start, 409)
        existed = target.exists()
        if existed and h.get("Overwrite") == "F":
            return self._answer(start, 412)
        _write(target, data)
        answer: dict[str, str] = {}
        if "X-Oc-Mtime" in h:
            os.utime(target, (float(h["X-Oc-Mtime"]), float(h["X-Oc-Mtime"])))
            answer["X-OC-MTime"] = "accepted"
        del self.chunks[upload_id]
        return self._answer(start, 204 if existed else 201, answer)

    # -- TUS --------------------------------------------------------------------------------
    def _tus(
        self, start: StartResponse, method: str, path: str, h: dict[str, str], body: bytes
    ) -> list[bytes]:
        tus = {"Tus-Resumable": "1.0.0"}
        if method == "POST":
            return self._tus_create(start, path, h, tus)
        upload = self.uploads.get(path.removeprefix("/data/"))
        if upload is None:
            return self._answer(start, 404, tus)
        if method == "HEAD":
            offset = {"Upload-Offset": str(len(upload.data)), "Upload-Length": str(upload.length)}
            return self._answer(start, 200, {**tus, **offset, "Cache-Control": "no-store"})
        if method != "PATCH":
            return self._answer(start, 405, tus)
        if h.get("Tus-Resumable") != "1.0.0":
            return self._answer(start, 412, tus)
        if h.get("Content-Type") != "application/offset+octet-stream":
            return self._answer(start, 400, tus)
        offset = h.get("Upload-Offset", "")
        if not offset.isdigit():
            return self._answer(start, 400, tus)
        if int(offset) != len(upload.data):
            return self._answer(start, 409, tus)
        too_big = self.tus_max_chunk is not None and len(body) > self.tus_max_chunk
        if too_big or len(upload.data) + len(body) > upload.length:
            return self._answer(start, 413, tus)
        upload.data += body
        if len(upload.data) == upload.length:
            _write(upload.target, bytes(upload.data))
            if upload.mtime is not None:
                os.utime(upload.target, (upload.mtime, upload.mtime))
        return self._answer(start, 204, {**tus, "Upload-Offset": str(len(upload.data))})

    def _tus_create(
        self, start: StartResponse, path: str, h: dict[str, str], tus: dict[str, str]
    ) -> list[bytes]:
        meta = _metadata(h.get("Upload-Metadata", ""))
        length = h.get("Upload-Length", "")
        if h.get("Tus-Resumable") != "1.0.0" or not length or "filename" not in meta:
            return self._answer(start, 412, tus)
        if not length.isdigit():
            return self._answer(start, 400, tus)
        folder = self._disk(path)
        name = meta["filename"]
        if folder is None or not folder.is_dir() or "/" in name or name in ("", ".", ".."):
            return self._answer(start, 412, tus)
        mtime = float(meta["mtime"]) if "mtime" in meta else None
        upload_id = uuid.uuid4().hex
        self.uploads[upload_id] = Upload(folder / name, int(length), mtime)
        return self._answer(start, 201, {**tus, "Location": f"{self.base_url}/data/{upload_id}"})


def _metadata(header: str) -> dict[str, str]:
    """`Upload-Metadata: key b64, key2 b64` as a dict (tusd's ParseMetadataHeader)."""
    out = {}
    for pair in re.split(r"\s*,\s*", header.strip()):
        key, _, value = pair.partition(" ")
        if key:
            out[key] = base64.b64decode(value).decode() if value else ""
    return out


def _write(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.assembling")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def start_chunking_server(
    root: Path, *, tus_max_chunk: int | None = None
) -> tuple[DavServer, ChunkingFront]:
    """The front and its wsgidav on a free port, files under `root`."""
    front = ChunkingFront(root, tus_max_chunk=tus_max_chunk)
    port, stop = serve_wsgi(front, "chunking-dav")
    front.base_url = f"http://127.0.0.1:{port}"
    server = DavServer("chunking", front.base_url, root, FILES, USER, PASSWORD, _stop=[stop])
    return server, front
