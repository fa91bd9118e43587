"""What every provider adapter shares: the route it serves, the request it builds, headers.

An adapter is two small functions: `build` (pure: URL, headers, body, so it can be compared
with huggingface_hub's own request builder in tests) and `fetch` (turns the first answer into
image bytes, polling and downloading through a `Call`). A new provider is one more module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from service.inference.images import ImagePayload
from service.inference.transport import Call

USER_AGENT = "photo-restore/0.1 (+https://github.com/photo-restore)"


@dataclass(frozen=True)
class Route:
    """One provider able to run a model: the provider's own id for it, from the Hub mapping."""

    provider: str
    provider_id: str
    hf_model_id: str
    task: str = "image-to-image"
    adapter_weights_path: str | None = None  # LoRA repos: the weights file to hand the provider


@dataclass(frozen=True)
class BuildContext:
    """Where and as whom to call: the router base URL, the token, the billing org."""

    router_url: str
    token: str | None = field(repr=False)  # a secret: never in reprs or logs
    bill_to: str | None = None
    hub_url: str = "https://huggingface.co"

    def base(self, provider: str) -> str:
        """`{router}/{provider}`: the router resolves the provider from the first path segment."""
        return f"{self.router_url.rstrip('/')}/{provider}"


@dataclass(frozen=True)
class Request:
    """A request ready to send."""

    method: str
    url: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None
    content: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """One provider's wire protocol for image-to-image."""

    provider: str

    def build(
        self, ctx: BuildContext, route: Route, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> Request:
        """The submit request for `image` with HF-task `parameters` (prompt, guidance_scale…)."""
        ...

    async def fetch(
        self, call: Call, ctx: BuildContext, request: Request, response: httpx.Response
    ) -> bytes:
        """Image bytes from the submit's answer (polling and downloading as needed)."""
        ...


def headers(
    ctx: BuildContext,
    *,
    content_type: str | None = "application/json",
    accept: str | None = "image/png",
    **extra: str,
) -> dict[str, str]:
    """Lower-cased headers as huggingface_hub sends them, plus billing when configured.

    `accept: image/png` is what huggingface_hub adds for every image task (`_inner_post`);
    we send the same so providers see the same request from us as from the official client.
    Other tasks (image-to-video) get no `accept`, as from huggingface_hub: pass `accept=None`.
    """
    out: dict[str, str] = {"user-agent": USER_AGENT}
    if accept:
        out["accept"] = accept
    if ctx.token:
        out["authorization"] = f"Bearer {ctx.token}"
    if ctx.bill_to:
        out["x-hf-bill-to"] = ctx.bill_to
    if content_type:
        out["content-type"] = content_type
    out.update({k.lower(): v for k, v in extra.items()})
    return out


async def submit(call: Call, request: Request) -> httpx.Response:
    """Send the paid request of a call and mark the call as paid for once it got through."""
    response = await call.send(
        request.method,
        request.url,
        headers=request.headers,
        json=request.json,
        content=request.content,
    )
    call.submitted = True
    return response


def poll_headers(request: Request) -> dict[str, str]:
    """Headers for GET polls on the router: the submit's, minus the body's content type."""
    return {k: v for k, v in request.headers.items() if k not in ("content-type", "prefer")}


def drop_none(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters without None values, recursively, like huggingface_hub's `filter_none`."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = drop_none(value) if isinstance(value, Mapping) else value
    return out


def lora_path(ctx: BuildContext, route: Route) -> str | None:
    """The weights URL for LoRA mappings, as the official client builds it."""
    if route.adapter_weights_path is None:
        return None
    return (
        f"{ctx.hub_url.rstrip('/')}/{route.hf_model_id}/resolve/main/{route.adapter_weights_path}"
    )
