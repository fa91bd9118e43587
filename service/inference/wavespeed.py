"""wavespeed through the router: submit, then poll `data.urls.get` until completed or failed.

Request as huggingface_hub's `WavespeedAIImageToImageTask` (`image` as a data URL, prompt and
parameters flat), plus `images: [image]`: WaveSpeed's Qwen edit endpoints require the array
and answer 400 without it (huggingface.js sends it since 2025-11; see docs/hf-providers.md §3.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import httpx

from service.errors import ProviderDown, ProviderRejected
from service.inference.base import BuildContext, Request, Route, drop_none, headers, poll_headers
from service.inference.images import ImagePayload
from service.inference.transport import Call, json_object

PROVIDER = "wavespeed"
_PENDING = {"created", "processing", "queued", "pending"}


class WavespeedAdapter:
    """WaveSpeed's v3 task API."""

    provider = PROVIDER

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """POST {router}/wavespeed/api/v3/{providerId}."""
        url = image.data_url()
        params = drop_none(parameters)
        body: dict[str, Any] = {"image": url, "images": [url], **params}
        return Request(
            "POST", f"{ctx.base(PROVIDER)}/api/v3/{route.provider_id}", headers(ctx), json=body
        )

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, response: httpx.Response
    ) -> bytes:
        """Poll the task's `urls.get` through the router; download `outputs[0]`."""
        submitted = json_object(response, PROVIDER)
        return await call.download(await finished_output(call, ctx, request, submitted))


async def finished_output(
    call: Call, ctx: BuildContext, request: Request, submitted: Mapping[str, Any]
) -> str:
    """`outputs[0]` of a completed task (`submitted`: the submit's answer), polling `urls.get`;
    a failed task's own reason.

    Shared by every wavespeed task (images, clips): the output is a URL either way.
    """
    data = submitted.get("data") or {}
    get_url = (data.get("urls") or {}).get("get")
    if not isinstance(get_url, str):
        raise ProviderDown(f"wavespeed: answer without data.urls.get: {str(data)[:200]}")
    poll_url = f"{ctx.base(PROVIDER)}{urlparse(get_url).path}"
    get_headers = poll_headers(request)

    async def check() -> dict[str, Any] | None:
        body = await call.json("GET", poll_url, headers=get_headers)
        task = body.get("data") or {}
        status = task.get("status")
        if status in _PENDING:
            return None
        if status in ("completed", "failed"):
            return task
        raise ProviderDown(f"wavespeed: unexpected task status {status!r}")

    task: dict[str, Any] = data
    if data.get("status") not in ("completed", "failed"):
        task = await call.poll(check, f"wavespeed task {data.get('id', '?')}")
    if task.get("status") == "failed":
        reason = task.get("error") or "the task failed without a reason"
        raise ProviderRejected(f"wavespeed: task failed: {reason}", request_id=data.get("id"))
    outputs = task.get("outputs") or []
    if not outputs or not isinstance(outputs[0], str):
        raise ProviderDown("wavespeed: completed task without outputs")
    return str(outputs[0])
