"""fal-ai image-to-video through the router: the image queue protocol, a clip at the end.

Request as huggingface_hub's `FalAIImageToVideoTask` builds it: `image_url` only (no
`image_urls`), parameters flat and verbatim (`target_size` is NOT renamed for video), LoRA
weights as `loras`, no `accept` header. The queue is polled as for images
(`fal_ai.queue_result`); the result's `video.url` is the clip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.errors import ProviderDown
from service.inference.base import BuildContext, Request, Route, drop_none, headers, lora_path
from service.inference.fal_ai import PROVIDER, queue_result
from service.inference.images import ImagePayload
from service.inference.transport import Call


class FalAIVideoAdapter:
    """fal's queue API, for clips."""

    provider = PROVIDER
    max_image_chars: int | None = None

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/fal-ai/{providerId}?_subdomain=queue with a JSON body."""
        body: dict[str, Any] = {"image_url": image.data_url(), **drop_none(parameters)}
        if (lora := lora_path(ctx, route)) is not None:
            body["loras"] = [{"path": lora, "scale": 1}]
        return Request(
            "POST",
            f"{ctx.base(PROVIDER)}/{route.provider_id}?_subdomain=queue",
            headers(ctx, accept=None),
            json=body,
        )

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, submitted: Mapping[str, Any]
    ) -> str:
        """Poll the queue until COMPLETED, fetch the result, answer `video.url`."""
        result = await queue_result(call, ctx, request, submitted)
        video = result.get("video")
        url = video.get("url") if isinstance(video, dict) else video
        if not isinstance(url, str) or not url:
            raise ProviderDown(f"fal-ai: result without video.url: {str(result)[:200]}")
        return url
