"""fal-ai through the router: queue submit → status polls → result JSON → CDN download.

Request as huggingface_hub's `FalAIImageToImageTask` builds it: both `image_url` and
`image_urls` (FLUX.2 wants the array, Qwen-Image-Edit the string), `target_size` renamed to
`image_size`, LoRA weights as `loras`. Status and result URLs come from the submit's
`response_url` path (fal: "do not build these URLs yourself"), sent back through the router.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import httpx

from service.errors import ProviderDown
from service.inference.base import (
    BuildContext,
    Request,
    Route,
    drop_none,
    headers,
    lora_path,
    poll_headers,
)
from service.inference.images import ImagePayload
from service.inference.transport import Call, json_object

PROVIDER = "fal-ai"
_PENDING = {"IN_QUEUE", "IN_PROGRESS"}


class FalAIAdapter:
    """fal's queue API."""

    provider = PROVIDER

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/fal-ai/{providerId}?_subdomain=queue with a JSON body."""
        params = drop_none(parameters)
        if "target_size" in params:
            params["image_size"] = params.pop("target_size")
        url = image.data_url()
        body: dict[str, Any] = {"image_url": url, "image_urls": [url], **params}
        if (lora := lora_path(ctx, route)) is not None:
            body["loras"] = [{"path": lora, "scale": 1}]
        return Request(
            "POST",
            f"{ctx.base(PROVIDER)}/{route.provider_id}?_subdomain=queue",
            headers(ctx),
            json=body,
        )

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, response: httpx.Response
    ) -> bytes:
        """Poll the queue until COMPLETED, fetch the result, download the first image."""
        result = await queue_result(call, ctx, request, json_object(response, PROVIDER))
        images = result.get("images") or ([result["image"]] if "image" in result else [])
        if not images or not isinstance(images[0], dict) or "url" not in images[0]:
            raise ProviderDown(f"fal-ai: result without images: {str(result)[:200]}")
        return await call.download(images[0]["url"])


async def queue_result(
    call: Call, ctx: BuildContext, request: Request, submitted: Mapping[str, Any]
) -> dict[str, Any]:
    """The result JSON of a queued request (`submitted`: the submit's answer): status polls
    until COMPLETED, then the result.

    Shared by every fal task (images, clips): only what is read from the result differs. A
    clip's submit answer is kept, so a retried job can come back here without paying again.
    """
    response_url = submitted.get("response_url")
    if not isinstance(response_url, str) or not submitted.get("request_id"):
        raise ProviderDown(
            f"fal-ai: queue answer without request_id/response_url: {str(submitted)[:200]}"
        )
    path = urlparse(response_url).path
    base = ctx.base(PROVIDER)
    get_headers = poll_headers(request)
    status_url = f"{base}{path}/status?_subdomain=queue"
    result_url = f"{base}{path}?_subdomain=queue"

    async def check() -> str | None:
        body = await call.json("GET", status_url, headers=get_headers)
        status = body.get("status")
        if status == "COMPLETED":
            return "COMPLETED"
        if status in _PENDING:
            return None
        raise ProviderDown(f"fal-ai: unexpected queue status {status!r}")

    if submitted.get("status") != "COMPLETED":
        await call.poll(check, "fal-ai queue request")
    return await call.json("GET", result_url, headers=get_headers)
