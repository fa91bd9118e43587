"""replicate through the router: one create call held open by `Prefer: wait`, then polling.

Request as huggingface_hub's `ReplicateImageToImageTask`: the image under the four keys
different Replicate models read (`image`, `images`, `input_image`, `input_images`), a pinned
version (`owner/name:hash`) posted to `/v1/predictions`. Unlike the official clients, a
prediction still `starting`/`processing` when the wait ends (~60 s) is polled at
`/replicate/v1/predictions/{id}` rather than reported as a timeout, and `failed` surfaces
Replicate's own error instead of being hidden behind a null output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from service.errors import ProviderDown, ProviderRejected
from service.inference.base import BuildContext, Request, Route, drop_none, headers, poll_headers
from service.inference.images import ImagePayload
from service.inference.transport import Call

PROVIDER = "replicate"
_PENDING = {"starting", "processing"}


class ReplicateAdapter:
    """Replicate's predictions API."""

    provider = PROVIDER

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/replicate/v1/models/{owner}/{name}/predictions with `Prefer: wait`."""
        url = image.data_url()
        body: dict[str, Any] = {
            "input": {
                "image": url,
                "images": [url],
                "input_image": url,
                "input_images": [url],
                **drop_none(parameters),
            }
        }
        if ":" in route.provider_id:
            body["version"] = route.provider_id.split(":", 1)[1]
            path = "/v1/predictions"
        else:
            path = f"/v1/models/{route.provider_id}/predictions"
        return Request("POST", ctx.base(PROVIDER) + path, headers(ctx, prefer="wait"), json=body)

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, response: httpx.Response
    ) -> bytes:
        """The output URL of a finished prediction, polling one still running."""
        prediction = response.json()
        status = prediction.get("status")
        if status in _PENDING or (status is None and prediction.get("output") is None):
            pid = prediction.get("id")
            if not pid:
                raise ProviderDown(f"replicate: prediction without id: {str(prediction)[:200]}")
            url = f"{ctx.base(PROVIDER)}/v1/predictions/{pid}"
            get_headers = poll_headers(request)

            async def check() -> dict[str, Any] | None:
                body = await call.json("GET", url, headers=get_headers)
                return None if body.get("status") in _PENDING else body

            prediction = await call.poll(check, f"replicate prediction {pid}")
            status = prediction.get("status")
        if status in ("failed", "canceled", "aborted"):
            reason = prediction.get("error") or status
            raise ProviderRejected(
                f"replicate: prediction {status}: {reason}", request_id=prediction.get("id")
            )
        output = prediction.get("output")
        if isinstance(output, list):
            output = output[0] if output else None
        if isinstance(output, dict):
            output = output.get("url") or output.get("image")
        if not isinstance(output, str):
            raise ProviderDown(f"replicate: prediction {status} without output")
        return await call.download(output)
