"""wavespeed image-to-video through the router: submit, poll `data.urls.get`, `outputs[0]`.

Request as huggingface_hub's `WavespeedAIImageToVideoTask` builds it: `image` as a data URL,
parameters flat, `prompt` last, no `accept` header. Unlike our image adapter no `images`
array is added: the clip endpoints take one image. A failed task ends with WaveSpeed's own
reason (`wavespeed.finished_output`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.inference.base import BuildContext, Request, Route, drop_none, headers
from service.inference.images import ImagePayload
from service.inference.transport import Call
from service.inference.wavespeed import PROVIDER, finished_output


class WavespeedVideoAdapter:
    """WaveSpeed's v3 task API, for clips."""

    provider = PROVIDER
    max_image_chars: int | None = None

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/wavespeed/api/v3/{providerId}."""
        params = drop_none(parameters)
        prompt = params.pop("prompt", None)
        body: dict[str, Any] = {"image": image.data_url(), **params}
        if prompt is not None:
            body["prompt"] = prompt
        return Request(
            "POST",
            f"{ctx.base(PROVIDER)}/api/v3/{route.provider_id}",
            headers(ctx, accept=None),
            json=body,
        )

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, submitted: Mapping[str, Any]
    ) -> str:
        """The completed task's first output URL."""
        return await finished_output(call, ctx, request, submitted)
