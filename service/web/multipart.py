"""Multipart uploads read as they arrive: each file is written once, straight into its own
file in the request's temporary folder, and refused the moment it passes its limit.

Starlette's form parser spools files into anonymous temporary files that have to be copied
again before a storage can take them (a 1.5 GB upload was written twice before MAX_FILE_MB
said no). Here a file part goes to `<folder>/<n>` as its bytes come, the handler hands that
path to the storage, and a file over `max_file` stops the request (413) without reading on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.requests import Request

from service.errors import InvalidRequest, RequestTooLarge

MAX_FIELD = 64 * 1024  # a text field (the folder) is a path
WRITE_BATCH = 1 << 20  # disk writes go to a thread in pieces of about this size


class _Parts:
    """The parser's callbacks: fields kept in memory, files written to `folder`."""

    def __init__(self, folder: Path, *, max_file: int, max_files: int, max_fields: int) -> None:
        self.folder = folder
        self.max_file, self.max_files, self.max_fields = max_file, max_files, max_fields
        self.items: list[tuple[str, str | UploadFile]] = []
        self.pending: list[tuple[BinaryIO, bytes]] = []
        self.pending_size = 0
        self.files: list[UploadFile] = []
        self.fields = 0
        self._begin()

    def _begin(self) -> None:
        self.header_name = b""
        self.header_value = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.name = ""
        self.file: UploadFile | None = None
        self.data = bytearray()

    def on_part_begin(self) -> None:
        self._begin()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers.append((self.header_name.lower(), self.header_value))
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        disposition = dict(self.headers).get(b"content-disposition", b"")
        _kind, options = parse_options_header(disposition)
        if b"name" not in options:
            raise InvalidRequest("a form part has no name")
        self.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            self.fields += 1
            if self.fields > self.max_fields:
                raise InvalidRequest(f"more than {self.max_fields} form fields")
            return
        if len(self.files) >= self.max_files:
            raise InvalidRequest(f"more than {self.max_files} files in one upload")
        handle = (self.folder / str(len(self.files))).open("w+b")
        self.file = UploadFile(
            handle,
            size=0,
            filename=options[b"filename"].decode("utf-8", "replace"),
            headers=Headers(raw=self.headers),
        )
        self.files.append(self.file)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self.file is None:
            if len(self.data) + len(piece) > MAX_FIELD:
                raise RequestTooLarge(f"form field {self.name!r} is over {MAX_FIELD} bytes")
            self.data += piece
            return
        assert self.file.size is not None
        self.file.size += len(piece)
        if self.file.size > self.max_file:
            raise RequestTooLarge(
                f"{self.file.filename}: larger than MAX_FILE_MB ({self.max_file >> 20} MB)"
            )
        self.pending.append((self.file.file, piece))
        self.pending_size += len(piece)

    def on_part_end(self) -> None:
        if self.file is None:
            self.items.append((self.name, self.data.decode("utf-8", "replace")))
        else:
            self.items.append((self.name, self.file))

    def take_pending(self) -> list[tuple[BinaryIO, bytes]]:
        out, self.pending, self.pending_size = self.pending, [], 0
        return out


def _write(pieces: list[tuple[BinaryIO, bytes]]) -> None:
    for handle, data in pieces:
        handle.write(data)


async def receive_form(
    request: Request, folder: Path, *, max_file: int, max_files: int, max_fields: int = 20
) -> tuple[FormData, list[UploadFile]]:
    """The form of a multipart request, its files written into `folder` (the caller closes
    the returned files and removes the folder)."""
    _kind, params = parse_options_header(request.headers.get("content-type", ""))
    if _kind != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidRequest("expected a multipart/form-data body with a boundary")
    parts = _Parts(folder, max_file=max_file, max_files=max_files, max_fields=max_fields)
    callbacks = {
        name: getattr(parts, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if parts.pending_size >= WRITE_BATCH:
                await asyncio.to_thread(_write, parts.take_pending())
        parser.finalize()
        await asyncio.to_thread(_write, parts.take_pending())
        for upload in parts.files:
            await asyncio.to_thread(upload.file.seek, 0)
    except BaseException as exc:
        for upload in parts.files:
            upload.file.close()
        if isinstance(exc, FormParserError):
            raise InvalidRequest(f"not a multipart form we can read ({exc})") from None
        raise
    return FormData(parts.items), parts.files
