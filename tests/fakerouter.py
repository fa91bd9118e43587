"""A small fake HF router and Hub API on loopback, for tests and benchmarks.

    with FakeRouter(delay=0.0, fail={"fal-ai": 402}) as router:
        settings = load_settings(hf_router_url=router.url, hf_endpoint=router.url, hf_token="hf_x")
        ...
        router.count("replicate")   # submits seen by replicate
        router.calls                # every request: provider, method, path, headers, json

It speaks fal-ai's queue (submit → status → result → CDN), replicate (`Prefer: wait`, then
`/v1/predictions/{id}`), wavespeed (`urls.get` polling), hf-inference (raw bytes or JSON
inputs) and together (base64), plus `GET /api/models/{id}?expand[]=inferenceProviderMapping`.
Answers arrive after `delay` seconds (async providers: the job completes `delay` after submit)
and are the input image made a bit brighter, as PNG (or what `answer` makes of the input's
bytes: a stand-in model of the test's choosing). `fail` makes a provider's submits fail:
an int status for every submit, a list consumed one submit at a time (None = succeed), or
"failed" for a job that runs and then fails (wavespeed/replicate/fal/together error).

Clips: models whose task (`tasks`, default `DEFAULT_TASKS`) is image-to-video or
image-text-to-video are answered with a real small MP4 of the input image (PyAV, H.264; its
length follows `num_frames`/`frames_per_second`, `duration` or `seconds`/`fps`), through
fal's queue (`video.url`), wavespeed (`outputs[0]`) and together's `/v2/videos` (poll by id,
`outputs.video_url`; `input_image` over 61,440 characters is refused as together does).
Hostile answers, for the clip check: `clip` = "html" (the CDN serves a page), "truncated"
(the MP4 cut short), "huge" (2 GiB announced in Content-Length), "endless" (no length, bytes
until the client stops), "other" (a clip of another picture); `clip_audio` adds a sound
track; `html` = "submit" or "poll" answers that call with an HTML page instead of JSON;
`cdn_fail` = n: the first n clip downloads answer 503 (a CDN hiccup after the clip was paid).
A Starlette app served by uvicorn in a background thread on a free port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakeproviders import _MESSAGES, FailSpec, ProviderProtocols, Seen, _Job, brighten
from tests.fakevideo import VideoProtocols, clip_of, other_picture

DEFAULT_MAPPINGS: dict[str, dict[str, str]] = {
    "black-forest-labs/FLUX.2-dev": {
        "fal-ai": "fal-ai/flux-2/edit",
        "replicate": "black-forest-labs/flux-2-dev",
        "wavespeed": "wavespeed-ai/flux-2-dev/edit",
        "together": "black-forest-labs/FLUX.2-dev",
    },
    "black-forest-labs/FLUX.2-klein-9B": {
        "fal-ai": "fal-ai/flux-2/klein/9b/edit",
        "replicate": "black-forest-labs/flux-2-klein-9b",
        "wavespeed": "wavespeed-ai/flux-2-klein-9b/edit",
    },
    "black-forest-labs/FLUX.1-Kontext-dev": {
        "replicate": "black-forest-labs/flux-kontext-dev",
        "fal-ai": "fal-ai/flux-kontext/dev",
    },
    "Qwen/Qwen-Image-Edit": {
        "fal-ai": "fal-ai/qwen-image-edit",
        "replicate": "qwen/qwen-image-edit",
        "wavespeed": "wavespeed-ai/qwen-image/edit",
    },
    "Qwen/Qwen-Image-Edit-2509": {"wavespeed": "wavespeed-ai/qwen-image/edit-plus-lora"},
    "caidas/swin2SR-realworld-sr-x4-64-bsrgan-psnr": {},
    "caidas/swin2SR-classical-sr-x2-64": {},
    "Wan-AI/Wan2.2-I2V-A14B": {
        "fal-ai": "fal-ai/wan/v2.2-a14b/image-to-video",
        "wavespeed": "wavespeed-ai/wan-2.2/i2v-480p",
        "together": "Wan-AI/Wan2.2-I2V-A14B",
    },
    "Wan-AI/Wan2.1-I2V-14B-480P": {"wavespeed": "wavespeed-ai/wan-2.1/i2v-480p"},
    "MiniMaxAI/MiniMax-H3": {"fal-ai": "minimax/h3/image-to-video"},
}
# The Hub task of each model; every other model is image-to-image.
DEFAULT_TASKS: dict[str, str] = {
    "Wan-AI/Wan2.2-I2V-A14B": "image-to-video",
    "Wan-AI/Wan2.1-I2V-14B-480P": "image-to-video",
    "MiniMaxAI/MiniMax-H3": "image-text-to-video",
}


class FakeRouter(VideoProtocols, ProviderProtocols):
    """The fake router; a context manager that serves it on a free loopback port."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        fail: Mapping[str, FailSpec | Sequence[FailSpec]] | None = None,
        mappings: Mapping[str, Mapping[str, str]] | None = None,
        token: str | None = None,
        replicate_wait: float = 60.0,
        retry_after: float = 1.0,
        transform: bool = True,
        tasks: Mapping[str, str] | None = None,
        clip: str = "ok",
        clip_audio: bool = False,
        html: str | None = None,
        cdn_fail: int = 0,
        answer: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.delay = delay
        self.fail: dict[str, Any] = {
            k: list(v) if isinstance(v, list | tuple) else v for k, v in (fail or {}).items()
        }
        raw = DEFAULT_MAPPINGS if mappings is None else mappings
        self.mappings: dict[str, dict[str, str]] = {k: dict(v) for k, v in raw.items()}
        self.token = token
        self.replicate_wait = replicate_wait
        self.retry_after = retry_after
        self.transform = transform
        self.tasks: dict[str, str] = dict(DEFAULT_TASKS if tasks is None else tasks)
        self.clip = clip
        self.clip_audio = clip_audio
        self.html = html
        self.cdn_fail = cdn_fail
        self.answer = answer or brighten  # the image "model": input image bytes → answer bytes
        self.calls: list[Seen] = []
        self.jobs: dict[str, _Job] = {}
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.app = Starlette(routes=self._routes())

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> FakeRouter:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app,
            log_level="error",
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-router"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake router did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- what tests look at ---------------------------------------------------------------

    def count(self, provider: str | None = None, method: str | None = None) -> int:
        """Requests seen, optionally for one provider ("hub", "cdn" included) and method."""
        return sum(
            1
            for c in self.calls
            if (provider is None or c.provider == provider)
            and (method is None or c.method == method)
        )

    def submits(self, provider: str | None = None) -> int:
        """POSTs (the paid calls) seen, optionally for one provider."""
        return self.count(provider, "POST")

    # -- internals ------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/api/models/{repo:path}", self._hub, methods=["GET"]),
            Route("/_fake/calls", self._calls, methods=["GET"]),
            Route("/cdn/{name}", self._cdn, methods=["GET"]),
            Route("/fal-ai/{owner}/{app}/requests/{rid}/status", self._fal_status, methods=["GET"]),
            Route("/fal-ai/{owner}/{app}/requests/{rid}", self._fal_result, methods=["GET"]),
            Route("/fal-ai/{pid:path}", self._fal_submit, methods=["POST"]),
            Route("/replicate/v1/predictions/{rid}", self._replicate_get, methods=["GET"]),
            Route(
                "/replicate/v1/models/{pid:path}/predictions",
                self._replicate_submit,
                methods=["POST"],
            ),
            Route("/replicate/v1/predictions", self._replicate_submit, methods=["POST"]),
            Route(
                "/wavespeed/api/v3/predictions/{rid}/result", self._wavespeed_get, methods=["GET"]
            ),
            Route("/wavespeed/api/v3/{pid:path}", self._wavespeed_submit, methods=["POST"]),
            Route("/hf-inference/models/{repo:path}", self._hf_inference, methods=["POST"]),
            Route("/endpoint/{name}", self._hf_inference, methods=["POST"]),
            Route("/together/v1/images/generations", self._together, methods=["POST"]),
            Route("/together/v2/videos", self._together_video, methods=["POST"]),
            Route("/together/v2/videos/{vid}", self._together_video_get, methods=["GET"]),
        ]

    async def _seen(self, request: Request, provider: str) -> tuple[Seen, bytes]:
        body = await request.body()
        data: Any = None
        if body and request.headers.get("content-type", "").startswith("application/json"):
            data = json.loads(body)
        seen = Seen(
            provider,
            request.method,
            request.url.path,
            request.url.query,
            dict(request.headers),
            data,
            len(body),
        )
        self.calls.append(seen)
        return seen, body

    def _headers(self) -> dict[str, str]:
        return {"x-request-id": f"Root=1-fake-{next(self._ids)}"}

    def _next_id(self) -> str:
        return f"req{next(self._ids):06d}"

    def _failure(self, provider: str) -> FailSpec:
        spec = self.fail.get(provider)
        if isinstance(spec, list):
            return spec.pop(0) if spec else None
        return spec

    def _error(self, status: int, provider: str) -> Response:
        headers = self._headers()
        if status == 429:
            headers["retry-after"] = f"{self.retry_after:g}"
        if status == 422:
            body: Any = {
                "detail": [
                    {"loc": ["body", "image_url"], "msg": "Field required", "type": "missing"}
                ]
            }
        else:
            body = {"error": _MESSAGES.get(status, "error").format(p=provider)}
        return JSONResponse(body, status_code=status, headers=headers)

    def _unauthorized(self, request: Request) -> bool:
        return self.token is not None and (
            request.headers.get("authorization") != f"Bearer {self.token}"
        )

    async def _start(
        self, request: Request, provider: str, image_of: Any
    ) -> tuple[_Job | None, Response | None, Seen]:
        seen, body = await self._seen(request, provider)
        if self._unauthorized(request):
            return None, self._error(401, provider), seen
        failure = self._failure(provider)
        if isinstance(failure, int):
            return None, self._error(failure, provider), seen
        video = self._is_video(request)
        try:
            raw = image_of(seen, body)
            if video:
                source = other_picture() if self.clip == "other" else raw
                audio = self.clip_audio
                image = await asyncio.to_thread(clip_of, source, seen.json or {}, audio=audio)
            else:
                image = await asyncio.to_thread(self.answer, raw) if self.transform else raw
        except (ValueError, OSError) as exc:
            return (
                None,
                JSONResponse(
                    {"error": f"bad image: {exc}"}, status_code=400, headers=self._headers()
                ),
                seen,
            )
        job = _Job(provider, time.monotonic() + self.delay, image, fail=failure == "failed")
        if video:
            job.media = "video/mp4"
        return job, None, seen

    async def _calls(self, request: Request) -> Response:
        return JSONResponse({"calls": len(self.calls)})

    async def _hub(self, request: Request) -> Response:
        await self._seen(request, "hub")
        repo = request.path_params["repo"]
        if repo not in self.mappings:
            return JSONResponse({"error": "Repository not found"}, status_code=404)
        task = self.tasks.get(repo, "image-to-image")
        mapping = {
            p: {"status": "live", "providerId": pid, "task": task}
            for p, pid in self.mappings[repo].items()
        }
        return JSONResponse({"_id": "x", "id": repo, "inferenceProviderMapping": mapping})

    async def _cdn(self, request: Request) -> Response:
        await self._seen(request, "cdn")
        job = self.jobs.get(request.path_params["name"].split(".")[0])
        if job is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        if job.media.startswith("video/"):
            return self._clip(job)
        return Response(job.image, media_type="image/png")


def main() -> None:
    """Serve in its own process (benchmarks, end-to-end runs): prints the URL, stops on EOF.

    python -m tests.fakerouter '{"delay": 1.0, "fail": {"fal-ai": 402}}'
    """
    import sys

    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    with FakeRouter(**options) as router:
        print(router.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
