"""hf-inference and dedicated Inference Endpoints: one synchronous POST answering image bytes.

As huggingface_hub's `HFInferenceBinaryInputTask`: with no parameters the body is the raw
image (super-resolution models such as swin2SR take nothing else), otherwise JSON
`{"inputs": <plain base64>, "parameters": {...}}`. A model with `endpoint` set is posted to
that URL directly; the router's hf-inference serves no image-to-image model today.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from service.errors import ProviderDown
from service.inference.base import BuildContext, Request, Route, drop_none, headers
from service.inference.images import ImagePayload, decode_data_url
from service.inference.transport import Call

PROVIDER = "hf-inference"


class HFInferenceAdapter:
    """The hf-inference protocol, on the router or on a dedicated endpoint."""

    provider = PROVIDER

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/hf-inference/models/{repo}, or the endpoint URL itself."""
        if route.provider_id.startswith(("http://", "https://")):
            url = route.provider_id
        else:
            url = f"{ctx.base(PROVIDER)}/models/{route.provider_id}"
        params = drop_none(parameters)
        if not params:
            # Raw bytes need their MIME type; huggingface_hub leaves it unset for bytes input.
            return Request("POST", url, headers(ctx, content_type=image.mime), content=image.data)
        body = json.dumps({"inputs": image.b64(), "parameters": params}).encode()
        return Request("POST", url, headers(ctx), content=body)

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, response: httpx.Response
    ) -> bytes:
        """The body is the image; a JSON body is an image as base64 or an error."""
        kind = response.headers.get("content-type", "")
        if kind.startswith("application/json"):
            body = response.json()
            item = body[0] if isinstance(body, list) and body else body
            if isinstance(item, dict):
                for key in ("image", "b64_json", "generated_image"):
                    if isinstance(item.get(key), str):
                        return decode_data_url(item[key])
            raise ProviderDown(f"hf-inference: JSON answer without an image: {str(body)[:200]}")
        if not response.content:
            raise ProviderDown("hf-inference: empty answer")
        return response.content
