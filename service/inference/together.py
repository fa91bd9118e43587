"""together through the router: one synchronous call answering base64.

Request as huggingface_hub's `TogetherImageToImageTask`: the image in `image_url` for
FLUX.1 Kontext (the only field it accepts) and in `reference_images` for everything else,
`num_inference_steps` renamed to `steps`, `response_format: base64`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from service.errors import ProviderDown
from service.inference.base import BuildContext, Request, Route, drop_none, headers
from service.inference.images import ImagePayload, decode_data_url
from service.inference.transport import Call

PROVIDER = "together"


class TogetherAdapter:
    """Together's images API."""

    provider = PROVIDER

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/together/v1/images/generations."""
        params = drop_none(parameters)
        prompt = params.pop("prompt", "")
        if "num_inference_steps" in params:
            params["steps"] = params.pop("num_inference_steps")
        lowered = route.provider_id.lower()
        url = image.data_url()
        field: dict[str, Any] = (
            {"image_url": url}
            if "kontext" in lowered and "flux.1" in lowered
            else {"reference_images": [url]}
        )
        body = {
            "prompt": prompt,
            **field,
            "response_format": "base64",
            **params,
            "model": route.provider_id,
        }
        return Request(
            "POST", f"{ctx.base(PROVIDER)}/v1/images/generations", headers(ctx), json=body
        )

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, response: httpx.Response
    ) -> bytes:
        """`data[0].b64_json`, or `data[0].url` when the provider chose a URL."""
        data = response.json().get("data") or []
        first = data[0] if data and isinstance(data[0], dict) else {}
        if isinstance(first.get("b64_json"), str):
            return decode_data_url(first["b64_json"])
        if isinstance(first.get("url"), str):
            return await call.download(first["url"])
        raise ProviderDown("together: answer without data[0].b64_json")
