"""The inference client: one model call, routed to the first provider that will serve it.

    routes (Hub mapping, or the model's endpoint) → for each provider in order:
        lease a slot → submit → poll/download (adapter) → image bytes
        402, provider 5xx after retries, "not supported" before paying → next provider

Clips (`image_to_video`, carried out by `clip_calls.ClipCalls`) take the same path with the
video adapters: routes from mappings of either video task, the adapter answers the clip's URL,
and the clip is downloaded streamed and capped (`video.download_clip`). Their polls are slower
(`VIDEO_POLL`), their deadline is the model's timeout, as for images, and a paid request is
handed to the caller as a ticket, so a retried job resumes it instead of paying again.

Everything goes over ONE injected `httpx.AsyncClient` (its pool is the process's pool to the
router). After a submit succeeded the call is never sent to another provider: that would pay
twice; a later failure becomes `ProviderUnavailable` and the job is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from service.config.catalog import ModelSpec
from service.constants import CLIP_MAX_BYTES
from service.errors import (
    ModelNotServed,
    PaymentRequired,
    PhotoRestoreError,
    ProviderDown,
    ProviderRejected,
    ProviderUnavailable,
)
from service.inference.base import Adapter, BuildContext, Route, submit
from service.inference.clip_calls import ClipCalls
from service.inference.fal_ai import FalAIAdapter
from service.inference.fal_ai_video import FalAIVideoAdapter
from service.inference.hf_inference import HFInferenceAdapter
from service.inference.images import ImagePayload
from service.inference.mapping import DEFAULT_TTL, MappingResolver, chosen_routes
from service.inference.policy import PROVIDER_RETRY, combined_failure
from service.inference.replicate import ReplicateAdapter
from service.inference.slots import ProviderSlots
from service.inference.together import TogetherAdapter
from service.inference.together_video import TogetherVideoAdapter
from service.inference.transport import (
    Call,
    Clock,
    PollPolicy,
    Sleep,
    default_clock,
    default_sleep,
)
from service.inference.video import (
    VIDEO_POLL,
    VIDEO_TASKS,
    ClipTicket,
    Remember,
    VideoAdapter,
    VideoResult,
)
from service.inference.wavespeed import WavespeedAdapter
from service.inference.wavespeed_video import WavespeedVideoAdapter
from service.retry import RetryPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

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
VIDEO_ADAPTERS: dict[str, VideoAdapter] = {
    a.provider: a for a in (FalAIVideoAdapter(), WavespeedVideoAdapter(), TogetherVideoAdapter())
}
VIDEO_SUPPORTED = tuple(VIDEO_ADAPTERS)


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
        video_poll: PollPolicy | None = None,
    ) -> None:
        self.http = http
        self.ctx = BuildContext(
            router_url=router_url, token=token, bill_to=bill_to, hub_url=hub_url
        )
        self.mapping = MappingResolver(http, hub_url, token, redis=redis, ttl=mapping_ttl)
        self.slots = ProviderSlots(redis, sleep=sleep)
        self.retry = retry or PROVIDER_RETRY
        self.poll = poll or PollPolicy()
        self.video_poll = video_poll or VIDEO_POLL
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
        return chosen_routes(spec, routes, spec.task)

    async def video_routes(self, spec: ModelSpec) -> list[Route]:
        """Providers able to make a clip of `spec`: mappings of either video task, in order."""
        if spec.endpoint or spec.provider == "hf-inference":
            raise ModelNotServed(
                f"{spec.repo}: clips are made through the router's "
                f"{', '.join(VIDEO_SUPPORTED)}, not through an endpoint or hf-inference"
            )
        routes = await self.mapping.routes(spec.repo, VIDEO_TASKS, VIDEO_SUPPORTED)
        return chosen_routes(spec, routes, " or ".join(VIDEO_TASKS))

    def video_adapter(self, provider: str) -> VideoAdapter:
        """The clip protocol of `provider` (a ticket may name one this build lacks)."""
        adapter = VIDEO_ADAPTERS.get(provider)
        if adapter is None:
            raise ProviderRejected(f"no clip adapter for provider {provider}")
        return adapter

    async def image_to_image(
        self, spec: ModelSpec, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> InferenceResult:
        """Run `spec` on `image`, failing over between providers; see the module docstring."""
        return await self._bounded(spec, self._image(spec, image, parameters))

    async def image_to_video(
        self,
        spec: ModelSpec,
        image: ImagePayload,
        parameters: Mapping[str, Any],
        *,
        max_bytes: int = CLIP_MAX_BYTES,
        ticket: ClipTicket | None = None,
        remember: Remember | None = None,
    ) -> VideoResult:
        """A clip of `image` by `spec`, failing over as for images; refused past `max_bytes`.

        `parameters` (HF-task names: prompt, negative_prompt, num_frames, seed… and the
        provider's own) are merged over the model's own for the provider that serves the call
        (`ModelSpec.parameters_for`) and sent verbatim. `remember` hears the `ClipTicket` of a
        paid request as soon as the provider took it and again once the clip's URL is known;
        given back as `ticket`, the same request is polled or downloaded again, never paid
        twice. The clip is not judged here.
        """
        clips = ClipCalls(self, spec, image, parameters, max_bytes, remember)
        work = clips.new() if ticket is None else clips.resumed(ticket)
        return await self._bounded(spec, work)

    async def _bounded(self, spec: ModelSpec, work: Coroutine[Any, Any, T]) -> T:
        # A hard stop on wall time in case a server trickles bytes past every timeout.
        limit = 2 * spec.timeout + 30
        try:
            async with asyncio.timeout(limit):
                return await work
        except TimeoutError:
            raise ProviderUnavailable(
                f"{spec.repo}: no result within {limit:.0f} s; the job will be retried later"
            ) from None

    async def _image(
        self, spec: ModelSpec, image: ImagePayload, parameters: Mapping[str, Any]
    ) -> InferenceResult:
        async def attempt(route: Route, call: Call) -> bytes:
            adapter = ADAPTERS[route.provider]
            request = adapter.build(self.ctx, route, image, parameters)
            response = await submit(call, request)
            return await adapter.fetch(call, self.ctx, request, response)

        routes = await self.routes(spec)
        data, route, retries, note = await self.failover(spec, routes, attempt, self.poll)
        return InferenceResult(data, route.provider, route.provider_id, retries=retries, note=note)

    async def failover(
        self,
        spec: ModelSpec,
        routes: list[Route],
        attempt: Callable[[Route, Call], Awaitable[T]],
        poll: PollPolicy,
    ) -> tuple[T, Route, int, str]:
        """`attempt` on each route in turn, under a slot and a deadline; see the module doc."""
        failures: list[PhotoRestoreError] = []
        calls: list[Call] = []
        for index, route in enumerate(routes):
            try:
                value = await self.ask(spec, route, attempt, poll, calls)
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
            return value, route, retries + index, note
        raise combined_failure(spec.repo, failures)

    async def ask(
        self,
        spec: ModelSpec,
        route: Route,
        attempt: Callable[[Route, Call], Awaitable[T]],
        poll: PollPolicy,
        calls: list[Call],
    ) -> T:
        """One provider's answer, under its slot and the call's deadline. A failure before the
        submit got through may go to the next provider; one after it may not (`calls` gets the
        call, for its retries)."""
        limit = self.provider_limits.get(route.provider, spec.max_concurrency)
        async with self.slots.lease(
            route.provider, limit, ttl=spec.timeout + 30, wait=spec.timeout
        ):
            call = Call(
                self.http,
                route.provider,
                deadline=self.clock() + spec.timeout,
                retry=self.retry,
                poll=poll,
                sleep=self.sleep,
                clock=self.clock,
            )
            calls.append(call)
            try:
                return await attempt(route, call)
            except (ModelNotServed, PaymentRequired, ProviderDown) as exc:
                if not call.submitted:
                    raise
                # Paid already: never buy the same result twice in one call; retry the job.
                raise ProviderUnavailable(
                    str(exc), retry_after=getattr(exc, "retry_after", None)
                ) from exc


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
