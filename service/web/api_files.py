"""The JSON API for files: browse inboxes and their `restored` siblings, thumbnails, downloads,
enqueue picked files and upload scans from the computer into an inbox.

Every path is checked by `service.web.access` (normalized, inside an inbox or its output);
uploads refuse junk names, arrive once into a temporary file (`service.web.multipart`) and are
written with `write_atomic`, so the watcher never sees a half-written file. An uploaded or
picked file is queued at once with the same job id the watcher would give it, and marked in
the ledger, so it is never queued twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.errors import InvalidRequest
from service.queue import JobRequest
from service.runtime.services import Services
from service.storage.base import Entry
from service.storage.paths import join, parent
from service.watch.rules import is_junk, place
from service.web import images
from service.web.access import Inboxes, check_upload_name
from service.web.api_jobs import services_of
from service.web.bodies import EnqueueBody, UploadForm, form_body, json_body


def inboxes_of(request: Request) -> Inboxes:
    """The cached inbox discovery of this process."""
    inboxes: Inboxes = request.app.state.inboxes
    return inboxes


def _param(request: Request, name: str = "path") -> str:
    value = request.query_params.get(name)
    if not value:
        raise InvalidRequest(f"query parameter {name!r} is required")
    return value


async def list_inboxes(request: Request) -> Response:
    """Every inbox under WATCH_ROOT with its output folder."""
    areas = await inboxes_of(request).areas(fresh=request.query_params.get("fresh") == "1")
    return JSONResponse(
        {"inboxes": [{"inbox": a.inbox, "output": a.output, "parent": a.parent} for a in areas]}
    )


async def list_folder(request: Request) -> Response:
    """A folder inside an inbox or output: its sub-folders and files, each file with its
    newest job (inbox side). Junk (partial uploads, hidden files, our temp files) is hidden."""
    services = services_of(request)
    path, area, in_inbox = await inboxes_of(request).resolve(_param(request))
    entries = [e for e in await services.storage.list(path) if not is_junk(e.name)]
    jobs = await asyncio.gather(
        *(services.store.latest_for(e.path) for e in entries if in_inbox and not e.is_dir)
    )
    by_source = {j.source: j for j in jobs if j is not None}
    top = area.inbox if in_inbox else area.output
    items: list[dict[str, Any]] = []
    for e in entries:
        item: dict[str, Any] = {
            "name": e.name,
            "path": e.path,
            "is_dir": e.is_dir,
            "size": e.size,
            "mtime": e.mtime,
        }
        job = by_source.get(e.path)
        if job is not None:
            item["job"] = {"id": job.id, "status": job.status, "decision": job.decision}
        items.append(item)
    return JSONResponse(
        {
            "path": path,
            "side": "inbox" if in_inbox else "output",
            "inbox": area.inbox,
            "output": area.output,
            "up": parent(path) if path != top else None,
            "entries": items,
        }
    )


async def thumb(request: Request) -> Response:
    """A small JPEG of an image in an inbox or output folder."""
    path, _area, _in = await inboxes_of(request).resolve(_param(request))
    return images.jpeg(await images.thumbnail(services_of(request), path))


async def download(request: Request) -> Response:
    """The stored file as an attachment (`?inline=1` to view it instead)."""
    path, _area, _in = await inboxes_of(request).resolve(_param(request))
    inline = request.query_params.get("inline") == "1"
    return await images.file_response(services_of(request), path, download=not inline)


def _refusal(services: Services, name: str) -> str | None:
    """Why a chain ending in a clip cannot be queued now (no token: no clip can be made)."""
    chain = services.catalog.chains.get(name)
    if chain is None or not chain.makes_clip:
        return None
    has_token = services.settings.hf_token_value is not None
    missing = services.catalog.missing_for(chain, has_token=has_token)
    return f"chain {name} cannot run: " + "; ".join(missing) if missing else None


async def _queue_file(
    services: Services, entry: Entry, origin: str, chain: str | None = None
) -> dict[str, Any]:
    """Submit one file as the watcher would; report the job and whether it is new."""
    settings = services.settings
    chains = services.catalog.chains
    placement = place(
        entry.path,
        inbox_name=settings.inbox_name,
        output_name=settings.output_name,
        watch_root=settings.watch_root,
        chains=() if chain else chains,
        default_chain=chain or services.default_chain,
        output_format={n: c.output_format for n, c in chains.items()},
    )
    if placement is None:
        return {"path": entry.path, "error": "not a file the watcher would take"}
    refused = _refusal(services, placement.chain)
    if refused is not None:
        return {"path": entry.path, "error": refused}
    request = JobRequest(
        source=entry.path,
        output=placement.output,
        chain=placement.chain,
        identity=entry.identity,
        version=entry.version,
        origin=origin,
    )
    record = await services.queue.submit(request)
    await services.ledger.mark_taken(entry.identity, entry.version)
    return {"path": entry.path, "job": request.job_id, "new": record is not None}


@json_body(EnqueueBody)
async def enqueue(request: Request, body: EnqueueBody) -> Response:
    """Queue picked files as the watcher would, with the chain named or the folder's."""
    services = services_of(request)
    if body.chain is not None and body.chain not in services.catalog.chains:
        raise InvalidRequest(f"unknown chain {body.chain!r}")
    inboxes = inboxes_of(request)
    checked = [await inboxes.resolve(p) for p in body.paths]
    results = []
    for path, _area, in_inbox in checked:
        entry = await services.storage.stat(path)
        if not in_inbox or entry is None or entry.is_dir:
            results.append({"path": path, "error": "not a file in an inbox"})
            continue
        results.append(await _queue_file(services, entry, "api", body.chain))
    return JSONResponse({"results": results})


async def _free_name(services: Services, folder: str, name: str) -> str:
    """`name`, or `stem (2).ext`… when a file of that name is already there."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while await services.storage.stat(join(folder, candidate)) is not None:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    return candidate


def _file_limit(request: Request) -> int:
    """Bytes one uploaded file may have: MAX_FILE_MB."""
    return int(services_of(request).settings.max_file_mb * 1024 * 1024)


@form_body(UploadForm, max_file=_file_limit)
async def upload(request: Request, body: UploadForm) -> Response:
    """Multipart upload into an inbox folder: fields `folder` and one or more `file`s.

    Each file is written atomically, then queued at once (origin "upload").
    """
    services = services_of(request)
    folder, _area, in_inbox = await inboxes_of(request).resolve(body.folder)
    if not in_inbox:
        raise InvalidRequest("uploads go into an inbox, not into its output folder")
    names = [check_upload_name(f.filename or "") for f in body.file]
    results = []
    for file, name in zip(body.file, names, strict=True):
        await services.storage.makedirs(folder)
        target = join(folder, await _free_name(services, folder, name))
        local = Path(str(file.file.name))  # where service.web.multipart wrote it, once
        entry = await services.storage.write_atomic(target, local, overwrite=False)
        results.append(await _queue_file(services, entry, "upload"))
    return JSONResponse({"results": results}, status_code=201)


routes = [
    Route("/api/inboxes", list_inboxes, methods=["GET"]),
    Route("/api/files", list_folder, methods=["GET"]),
    Route("/api/files/thumb", thumb, methods=["GET"]),
    Route("/api/files/download", download, methods=["GET"]),
    Route("/api/files/enqueue", enqueue, methods=["POST"]),
    Route("/api/files/upload", upload, methods=["POST"]),
]
