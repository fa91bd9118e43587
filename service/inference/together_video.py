"""together image-to-video through the router: `POST /v2/videos`, then poll the job by id.

Request as huggingface_hub's `TogetherImageToVideoTask` builds it: the model in the body,
the image as the first keyframe (`frame_images: [{input_image, frame: "first"}]`),
`num_inference_steps` renamed to `steps`, `target_size` split into `width`/`height`.
`input_image` is capped near 60 KB (61,440 characters), so the client sends a smaller JPEG
(`video.shrink_to_fit`) to this provider only. Jobs are `queued`/`in_progress` until
`completed` (clip at `outputs.video_url`) or `failed` (reason at `error.message`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.errors import ProviderDown, ProviderRejected
from service.inference.base import (
    BuildContext,
    Request,
    Route,
    drop_none,
    headers,
    poll_headers,
)
from service.inference.images import ImagePayload
from service.inference.transport import Call

PROVIDER = "together"
MAX_IMAGE_CHARS = 61_440
_PENDING = {"queued", "in_progress", None}


def video_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """HF parameter names in together's: `steps`, and `width`/`height` from `target_size`."""
    params = drop_none(parameters)
    if "num_inference_steps" in params:
        params["steps"] = params.pop("num_inference_steps")
    target = params.pop("target_size", None)
    if isinstance(target, Mapping):
        params.update({k: target[k] for k in ("width", "height") if k in target})
    return params


class TogetherVideoAdapter:
    """Together's videos API."""

    provider = PROVIDER
    max_image_chars: int | None = MAX_IMAGE_CHARS - 1_000  # a margin under the documented cap

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/together/v2/videos."""
        body: dict[str, Any] = {
            "model": route.provider_id,
            "frame_images": [{"input_image": image.data_url(), "frame": "first"}],
            **video_parameters(parameters),
        }
        return Request(
            "POST", f"{ctx.base(PROVIDER)}/v2/videos", headers(ctx, accept=None), json=body
        )

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, submitted: Mapping[str, Any]
    ) -> str:
        """Poll `/v2/videos/{id}` until the job ends; the clip URL or the job's own error."""
        job = dict(submitted)
        job_id = job.get("id")
        if not isinstance(job_id, str) or not job_id:
            raise ProviderDown(f"together: video answer without id: {str(job)[:200]}")
        url = f"{request.url}/{job_id}"
        get_headers = poll_headers(request)

        async def check() -> dict[str, Any] | None:
            body = await call.json("GET", url, headers=get_headers)
            return None if body.get("status") in _PENDING else body

        if job.get("status") in _PENDING:
            job = await call.poll(check, f"together video job {job_id}")
        status = job.get("status")
        if status in ("failed", "cancelled", "canceled"):
            error = job.get("error")
            reason = error.get("message") if isinstance(error, dict) else error
            raise ProviderRejected(
                f"together: video job {status}: {reason or 'no reason given'}", request_id=job_id
            )
        outputs = job.get("outputs")
        video_url = outputs.get("video_url") if isinstance(outputs, dict) else None
        if status != "completed" or not isinstance(video_url, str) or not video_url:
            raise ProviderDown(f"together: video job {status!r} without outputs.video_url")
        return video_url
