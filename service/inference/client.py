"""The inference client: one model call, routed to the first provider that will serve it.

    routes (Hub mapping, or the model's endpoint) → for each provider in order:
        lease a slot → submit → poll/download (adapter) → image bytes
        402, provider 5xx after retries, "not supported" before paying → next provider

Everything goes over ONE injected `httpx.AsyncClient` (its pool is the process's pool to the
router). After a submit succeeded the call is never sent to another provider: that would pay
twice; a later failure becomes `ProviderUnavailable` and the job is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from service.config.catalog import ModelSpec
from service.errors import (
    ModelNotServed,
    PaymentRequired,
    PhotoRestoreError,
    ProviderDown,
    ProviderRejected,
    ProviderUnavailable,
)
from service.inference.base import Adapter, BuildContext, Route
from service.inference.fal_ai import FalAIAdapter
from service.inference.hf_inference import HFInferenceAdapter
from service.inference.images import ImagePayload
from service.inference.mapping import DEFAULT_TTL, MappingResolver
from service.inference.policy import PROVIDER_RETRY
from service.inference.replicate import ReplicateAdapter
from service.inference.slots import ProviderSlots
from service.inference.together import TogetherAdapter
from service.inference.transport import (
    Call,
    Clock,
    PollPolicy,
    Sleep,
    default_clock,
    default_sleep,
)
from service.inference.wavespeed import WavespeedAdapter
from service.retry import RetryPolicy

log = logging.getLogger(__name__)

ADAPTERS: dict[str, Adapter] = {
    a.provider: a
    for a in (
        FalAIAdapter(),
        ReplicateAdapter(),
        WavespeedAdapter(),
        HFInferenceAdapter(),
        TogetherAdapter(),
    )
}
SUPPORTED = tuple(ADAPTERS)


@dataclass(frozen=True)
class InferenceResult:
    """Image bytes and who made them, for the job record and the usage report."""

    data: bytes
    provider: str
    provider_id: str
    retries: int = 0
    note: str = ""


class InferenceClient:
    """Runs image-to-image calls through the HF router (or a dedicated endpoint)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        router_url: str,
        hub_url: str,
        token: str | None,
        bill_to: str | None = None,
        redis: Any = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        sleep: Sleep = default_sleep,
        clock: Clock = default_clock,
        mapping_ttl: float = DEFAULT_TTL,
        provider_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.http = http
        self.ctx = BuildContext(
            router_url=router_url, token=token, bill_to=bill_to, hub_url=hub_url
        )
        self.mapping = MappingResolver(http, hub_url, token, redis=redis, ttl=mapping_ttl)
        self.slots = ProviderSlots(redis, sleep=sleep)
        self.retry = retry or PROVIDER_RETRY
        self.poll = poll or PollPolicy()
        self.sleep = sleep
        self.clock = clock
        self.provider_limits = dict(provider_limits or {})

    def __repr__(self) -> str:  # never show the token
        token = "set" if self.ctx.token else "unset"
        return f"InferenceClient(router={self.ctx.router_url!r}, token={token})"

    @property
    def has_token(self) -> bool:
        """True when routed calls can be made."""
        return bool(self.ctx.token)

    def can_run(self, spec: ModelSpec) -> bool:
        """A model runs through its own endpoint, or through the router with a token."""
        return spec.endpoint is not None or self.has_token

    async def routes(self, spec: ModelSpec) -> list[Route]:
        """Providers to try for `spec`, in order; `ModelNotServed` when there is none."""
        if spec.endpoint:
            return [Route("hf-inference", spec.endpoint, spec.repo, spec.task)]
        if spec.provider == "hf-inference":
            return [Route("hf-inference", spec.repo, spec.repo, spec.task)]  # no mapping needed
        routes = await self.mapping.routes(spec.repo, spec.task, SUPPORTED)
        if spec.provider != "auto":
            routes = [r for r in routes if r.provider == spec.provider]
        elif spec.providers:
            order = {p: i for i, p in enumerate(spec.providers)}
            routes = sorted(
                (r for r in routes if r.provider in order), key=lambda r: order[r.provider]
            )
        if not routes:
            wanted = (
                spec.provider if spec.provider != "auto" else ", ".join(spec.providers) or "any"
            )
            raise ModelNotServed(
                f"{spec.repo}: no live {spec.task} mapping for provider(s) {wanted}"
            )
        return routes

    async def image_to_image(
        self, spec: ModelSpec, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> InferenceResult:
        """Run `spec` on `image`, failing over between providers; see the module docstring."""
        # A hard stop on wall time in case a server trickles bytes past every timeout.
        try:
            async with asyncio.timeout(2 * spec.timeout + 30):
                return await self._run(spec, image, parameters)
        except TimeoutError:
            raise ProviderUnavailable(
                f"{spec.repo}: no result within {2 * spec.timeout + 30:.0f}"
                " s; the job will be retried later"
            ) from None

    async def _run(
        self, spec: ModelSpec, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> InferenceResult:
        routes = await self.routes(spec)
        failures: list[PhotoRestoreError] = []
        calls: list[Call] = []
        for index, route in enumerate(routes):
            try:
                data = await self._ask(spec, route, image, parameters, calls)
            except (ModelNotServed, PaymentRequired, ProviderDown) as exc:
                if isinstance(exc, ModelNotServed):
                    await self.mapping.invalidate(spec.repo)
                log.warning(
                    "%s via %s failed, %s: %s",
                    spec.repo,
                    route.provider,
                    "trying the next provider" if index + 1 < len(routes) else "no more",
                    exc,
                )
                failures.append(exc)
                continue
            retries = sum(c.retries for c in calls)
            log.info(
                "%s answered by %s (%s) after %d retries",
                spec.repo,
                route.provider,
                route.provider_id,
                retries,
            )
            note = "; ".join(f"{r.provider} failed" for r in routes[:index])
            return InferenceResult(
                data, route.provider, route.provider_id, retries=retries + index, note=note
            )
        raise _combined(spec, failures)

    async def _ask(
        self,
        spec: ModelSpec,
        route: Route,
        image: ImagePayload,
        parameters: Mapping[str, Any],
        calls: list[Call],
    ) -> bytes:
        """One provider's answer, under its slot and the call's deadline. A failure before the
        submit got through may go to the next provider; one after it may not (`calls` gets the
        call, for its retries)."""
        adapter = ADAPTERS[route.provider]
        request = adapter.build(self.ctx, route, image, parameters)
        limit = self.provider_limits.get(route.provider, spec.max_concurrency)
        async with self.slots.lease(
            route.provider, limit, ttl=spec.timeout + 30, wait=spec.timeout
        ):
            call = Call(
                self.http,
                route.provider,
                deadline=self.clock() + spec.timeout,
                retry=self.retry,
                poll=self.poll,
                sleep=self.sleep,
                clock=self.clock,
            )
            calls.append(call)
            response = await call.send(
                request.method,
                request.url,
                headers=request.headers,
                json=request.json,
                content=request.content,
            )
            try:
                return await adapter.fetch(call, self.ctx, request, response)
            except (ModelNotServed, PaymentRequired, ProviderDown) as exc:
                # Paid already: never buy the same image twice in one call; retry the job.
                raise ProviderUnavailable(
                    str(exc), retry_after=getattr(exc, "retry_after", None)
                ) from exc


def _combined(spec: ModelSpec, failures: list[PhotoRestoreError]) -> PhotoRestoreError:
    """One error for a model no provider would run: transient if any failure may pass."""
    text = f"{spec.repo}: every provider failed: " + " | ".join(str(f) for f in failures)
    transient = [f for f in failures if isinstance(f, ProviderUnavailable)]
    if transient:
        hints = [f.retry_after for f in transient if f.retry_after is not None]
        return ProviderUnavailable(text, retry_after=max(hints) if hints else None)
    if all(isinstance(f, ModelNotServed) for f in failures):
        return ModelNotServed(text, status=400)
    paid = [f for f in failures if isinstance(f, PaymentRequired)]
    first = paid[0] if paid else failures[-1]
    assert isinstance(first, ProviderRejected)
    return type(first)(text, status=first.status, request_id=first.request_id)


def build_client(
    settings: Any, http: httpx.AsyncClient, redis: Any = None, **options: Any
) -> InferenceClient:
    """An `InferenceClient` configured from `Settings` (HF_TOKEN, HF_ROUTER_URL, HF_ENDPOINT…)."""
    return InferenceClient(
        http,
        router_url=settings.hf_router_url,
        hub_url=settings.hf_endpoint,
        token=settings.hf_token_value,
        bill_to=settings.hf_bill_to,
        redis=redis,
        **options,
    )
