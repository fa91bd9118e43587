"""The fake router's clips: what its three image-to-video providers answer, and how badly.

Mixed into `FakeRouter` (tests/fakerouter.py, which documents the options); kept apart so
each module stays readable. Clips are real small MP4s of the input image (tests/clips.py).
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Mapping
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from tests.clips import make_mp4, picture_of

VIDEO_TASKS = frozenset({"image-to-video", "image-text-to-video"})
TOGETHER_IMAGE_CAP = 61_440
HUGE = 2 * 1024**3
_CHUNK = 64 * 1024
_PAGE = "<!doctype html><html><head><title>Access denied</title></head><body>Denied</body></html>"


def _number(value: Any, default: float) -> float:
    try:
        return float(str(value).removesuffix("s"))
    except ValueError:
        return default


def clip_of(image: bytes, body: Mapping[str, Any], *, audio: bool = False) -> bytes:
    """The MP4 a video model would make of `image`, as long as `body` asks."""
    fps = round(_number(body.get("frames_per_second", body.get("fps", 16)), 16))
    if "num_frames" in body:
        frames = round(_number(body["num_frames"], 17))
    elif "duration" in body or "seconds" in body:
        frames = round(_number(body.get("duration", body.get("seconds")), 1) * fps) + 1
    else:
        frames = 17
    return make_mp4(picture_of(image), frames=max(2, frames), fps=fps, audio=audio)


def other_picture() -> bytes:
    """A picture with nothing of any photo: what a mixed-up provider would animate."""
    other = Image.new("RGB", (320, 240), (10, 200, 30))
    other.paste((230, 20, 200), (60, 30, 220, 180))
    buf = io.BytesIO()
    other.save(buf, format="PNG")
    return buf.getvalue()


def _data_url_bytes(value: str) -> bytes:
    return base64.b64decode(value.split(",", 1)[1] if value.startswith("data:") else value)


async def _chunks(data: bytes, repeats: int) -> Any:
    """`data` then filler, 64 KiB at a time, `repeats` times its size at most (bounded)."""
    payload = (data * (_CHUNK // max(1, len(data)) + 1))[:_CHUNK]
    for _ in range(repeats):
        yield payload
        await asyncio.sleep(0)


class VideoProtocols:
    """Clip handlers of `FakeRouter`: together's `/v2/videos`, the CDN's clips, HTML pages."""

    # Provided by FakeRouter.
    mappings: dict[str, dict[str, str]]
    tasks: dict[str, str]
    jobs: dict[str, Any]
    clip: str
    html: str | None
    cdn_fail: int
    _start: Any
    _seen: Any
    _headers: Any
    _next_id: Any
    _cdn_url: Any

    def _is_video(self, request: Request) -> bool:
        """Whether the provider id in the submit's path belongs to a video model."""
        path = request.url.path
        if path.startswith("/together/v2/videos"):
            return True
        for repo, providers in self.mappings.items():
            if self.tasks.get(repo, "image-to-image") not in VIDEO_TASKS:
                continue
            for provider, pid in providers.items():
                prefix = "/fal-ai/" if provider == "fal-ai" else f"/{provider}/api/v3/"
                if path == prefix + pid:
                    return True
        return False

    def _page(self, stage: str) -> Response | None:
        """An HTML page in place of the JSON answer of `stage`, when asked to misbehave."""
        return HTMLResponse(_PAGE) if self.html == stage else None

    def _clip(self, job: Any) -> Response:
        """The clip as served by the CDN, or one of the hostile answers of `clip`."""
        if self.cdn_fail > 0:
            self.cdn_fail -= 1
            return JSONResponse({"error": "upstream unavailable"}, status_code=503)
        if self.clip == "html":
            return HTMLResponse(_PAGE)
        if self.clip == "truncated":
            return Response(job.image[: len(job.image) * 3 // 5], media_type="video/mp4")
        if self.clip == "huge":
            headers = {"content-length": str(HUGE)}
            return StreamingResponse(_chunks(job.image, 4), media_type="video/mp4", headers=headers)
        if self.clip == "endless":
            return StreamingResponse(_chunks(job.image, 1024), media_type="video/mp4")
        return Response(job.image, media_type="video/mp4")

    async def _together_video(self, request: Request) -> Response:
        def image_of(seen: Any, body: bytes) -> bytes:
            (frame,) = seen.json["frame_images"]
            value = frame["input_image"]
            if len(value) > TOGETHER_IMAGE_CAP:
                raise ValueError(f"input_image is {len(value)} characters, over the limit")
            return _data_url_bytes(value)

        job, error, _ = await self._start(request, "together", image_of)
        if error is not None or job is None:
            return error or Response(status_code=500)
        vid = f"vid_{self._next_id()}"
        self.jobs[vid] = job
        if (page := self._page("submit")) is not None:
            return page
        body = {"id": vid, "object": "video", "model": "fake", "status": "queued"}
        return JSONResponse(body, headers=self._headers())

    async def _together_video_get(self, request: Request) -> Response:
        await self._seen(request, "together")
        vid = request.path_params["vid"]
        job = self.jobs.get(vid)
        if job is None:
            return JSONResponse({"error": {"message": "video not found"}}, status_code=404)
        if (page := self._page("poll")) is not None:
            return page
        job.polls += 1
        body: dict[str, Any] = {"id": vid, "object": "video", "status": "in_progress"}
        if time.monotonic() >= job.ready_at:
            if job.fail:
                body.update(status="failed", error={"message": "the video violates the policy"})
            else:
                body.update(status="completed", outputs={"video_url": self._cdn_url(vid)})
        return JSONResponse(body, headers=self._headers())
