"""The providers' own protocols as the fake router speaks them: fal-ai's queue, replicate's
predictions, wavespeed's polling, hf-inference's raw bytes and together's base64 (see
tests/fakerouter.py for the router that serves them).

A mixin of `FakeRouter`: the handlers use its bookkeeping (`_seen`, `_start`, `jobs`, `delay`)
and the misbehaviour hook `_page` of tests/fakevideo.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageEnhance
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

FailSpec = int | str | None

_MESSAGES = {
    400: "Model not supported by provider {p}",
    401: "Invalid credentials in Authorization header",
    402: "Pay-as-you go is not enabled for provider {p} yet.",
    403: "This authentication method does not have sufficient permissions",
    429: "Rate limit reached, slow down",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Request timed out",
}


@dataclass
class Seen:
    """One request the fake router received."""

    provider: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any = None
    body_size: int = 0


@dataclass
class _Job:
    provider: str
    ready_at: float
    image: bytes
    fail: bool = False
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    media: str = "image/png"


def brighten(data: bytes) -> bytes:
    """The plausible 'restoration': the input a little brighter, as PNG."""
    with Image.open(io.BytesIO(data)) as im:
        out = ImageEnhance.Brightness(im.convert("RGB")).enhance(1.1)
    buf = io.BytesIO()
    out.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


async def _sleep_until(deadline: float) -> None:
    while (left := deadline - time.monotonic()) > 0:  # uvloop timers may fire ~1 ms early
        await asyncio.sleep(left)


def _image_from(value: Any) -> bytes:
    if isinstance(value, list):
        value = value[0] if value else ""
    if not isinstance(value, str) or not value:
        raise ValueError("no image in the request")
    if value.startswith("data:"):
        value = value.split(",", 1)[1]
    return base64.b64decode(value)


class ProviderProtocols:
    """The provider routes' handlers."""

    def _cdn_url(self, rid: str) -> str:
        job = self.jobs.get(rid)
        suffix = "mp4" if job is not None and job.media.startswith("video/") else "png"
        return f"{self.url}/cdn/{rid}.{suffix}"

    # fal-ai -------------------------------------------------------------------------------

    async def _fal_submit(self, request: Request) -> Response:
        job, error, _ = await self._start(
            request, "fal-ai", lambda s, b: _image_from(s.json.get("image_url"))
        )
        if error is not None or job is None:
            return error or Response(status_code=500)
        rid = self._next_id()
        self.jobs[rid] = job
        if (page := self._page("submit")) is not None:
            return page
        owner, app = [*request.path_params["pid"].split("/"), "app"][:2]
        base = f"https://queue.fal.run/{owner}/{app}/requests/{rid}"
        return JSONResponse(
            {
                "request_id": rid,
                "status": "IN_QUEUE",
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
            },
            headers=self._headers(),
        )

    def _fal_state(self, job: _Job) -> str:
        left = job.ready_at - time.monotonic()
        if left <= 0:
            return "COMPLETED"
        return "IN_PROGRESS" if job.polls > 0 and left < self.delay / 2 else "IN_QUEUE"

    async def _fal_status(self, request: Request) -> Response:
        await self._seen(request, "fal-ai")
        job = self.jobs.get(request.path_params["rid"])
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if (page := self._page("poll")) is not None:
            return page
        state = self._fal_state(job)
        job.polls += 1
        return JSONResponse(
            {"status": state},
            status_code=200 if state == "COMPLETED" else 202,
            headers=self._headers(),
        )

    async def _fal_result(self, request: Request) -> Response:
        await self._seen(request, "fal-ai")
        rid = request.path_params["rid"]
        job = self.jobs.get(rid)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if job.fail:
            return JSONResponse(
                {"detail": "The model could not process this image"},
                status_code=422,
                headers=self._headers(),
            )
        if job.media.startswith("video/"):
            video = {
                "url": self._cdn_url(rid),
                "content_type": job.media,
                "file_size": len(job.image),
            }
            return JSONResponse({"video": video, "seed": 42}, headers=self._headers())
        return JSONResponse(
            {"images": [{"url": self._cdn_url(rid), "content_type": "image/png"}], "seed": 42},
            headers=self._headers(),
        )

    # replicate ----------------------------------------------------------------------------

    def _prediction(self, rid: str, job: _Job) -> dict[str, Any]:
        done = time.monotonic() >= job.ready_at
        status = ("failed" if job.fail else "succeeded") if done else "processing"
        return {
            "id": rid,
            "status": status,
            "model": "fake",
            "output": [self._cdn_url(rid)] if status == "succeeded" else None,
            "error": "CUDA out of memory" if status == "failed" else None,
            "urls": {"get": f"https://api.replicate.com/v1/predictions/{rid}"},
        }

    async def _replicate_submit(self, request: Request) -> Response:
        job, error, _ = await self._start(
            request, "replicate", lambda s, b: _image_from(s.json["input"]["image"])
        )
        if error is not None or job is None:
            return error or Response(status_code=500)
        rid = self._next_id()
        self.jobs[rid] = job
        if request.headers.get("prefer", "").startswith("wait"):
            until = min(job.ready_at, time.monotonic() + self.replicate_wait)
            while (left := until - time.monotonic()) > 0:  # uvloop timers may fire ~1 ms early
                await asyncio.sleep(left)
        return JSONResponse(self._prediction(rid, job), status_code=201, headers=self._headers())

    async def _replicate_get(self, request: Request) -> Response:
        await self._seen(request, "replicate")
        rid = request.path_params["rid"]
        job = self.jobs.get(rid)
        if job is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        return JSONResponse(self._prediction(rid, job), headers=self._headers())

    # wavespeed ----------------------------------------------------------------------------

    async def _wavespeed_submit(self, request: Request) -> Response:
        job, error, _ = await self._start(
            request,
            "wavespeed",
            lambda s, b: _image_from(s.json.get("images") or s.json.get("image")),
        )
        if error is not None or job is None:
            return error or Response(status_code=500)
        rid = self._next_id()
        self.jobs[rid] = job
        if (page := self._page("submit")) is not None:
            return page
        get = f"https://api.wavespeed.ai/api/v3/predictions/{rid}/result"
        return JSONResponse(
            {
                "code": 200,
                "message": "success",
                "data": {"id": rid, "status": "created", "urls": {"get": get}, "outputs": []},
            },
            headers=self._headers(),
        )

    async def _wavespeed_get(self, request: Request) -> Response:
        await self._seen(request, "wavespeed")
        rid = request.path_params["rid"]
        job = self.jobs.get(rid)
        if job is None:
            return JSONResponse({"code": 404, "message": "not found"}, status_code=404)
        if (page := self._page("poll")) is not None:
            return page
        data: dict[str, Any] = {"id": rid, "status": "processing", "outputs": []}
        if time.monotonic() >= job.ready_at:
            if job.fail:
                data.update(status="failed", error="NSFW content detected in the input")
            else:
                data.update(status="completed", outputs=[self._cdn_url(rid)])
        return JSONResponse(
            {"code": 200, "message": "success", "data": data}, headers=self._headers()
        )

    # synchronous providers ----------------------------------------------------------------

    async def _hf_inference(self, request: Request) -> Response:
        def image_of(seen: Seen, body: bytes) -> bytes:
            return _image_from(seen.json["inputs"]) if seen.json is not None else body

        job, error, _ = await self._start(request, "hf-inference", image_of)
        if error is not None or job is None:
            return error or Response(status_code=500)
        await _sleep_until(job.ready_at)
        return Response(job.image, media_type="image/png", headers=self._headers())

    async def _together(self, request: Request) -> Response:
        def image_of(seen: Seen, body: bytes) -> bytes:
            return _image_from(seen.json.get("reference_images") or seen.json.get("image_url"))

        job, error, _ = await self._start(request, "together", image_of)
        if error is not None or job is None:
            return error or Response(status_code=500)
        await _sleep_until(job.ready_at)
        b64 = base64.b64encode(job.image).decode()
        return JSONResponse(
            {
                "id": "t1",
                "model": request.headers.get("x-model", ""),
                "data": [{"index": 0, "b64_json": b64}],
            },
            headers=self._headers(),
        )
