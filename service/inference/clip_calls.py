"""One clip call on the client's machinery: a new paid request, or the resumption of one.

    new:      routes of either video task → failover (slot, deadline) → submit → ticket
              → poll to the clip URL → ticket with URL → streamed, capped download
    resumed:  the ticket's provider only, no submit → poll (unless the URL is known) → download

A ticket (`video.ClipTicket`) is handed to `remember` as soon as the provider accepted the
submit, and again with the clip's URL: the caller keeps it until the clip is stored, so a job
retried after a broken download or a poll past its deadline never buys the clip twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from service.config.specs import ModelSpec
from service.errors import ProviderRejected
from service.inference.base import Request, Route, submit
from service.inference.images import ImagePayload
from service.inference.transport import Call, json_object
from service.inference.video import (
    ClipTicket,
    Remember,
    VideoAdapter,
    VideoResult,
    asked_frames,
    asked_seconds,
    download_clip,
    fit_image,
    require_prompt,
)

if TYPE_CHECKING:
    from service.inference.client import InferenceClient

log = logging.getLogger(__name__)


@dataclass
class ClipCalls:
    """The clip of one image by one model, through `client`; see the module docstring."""

    client: InferenceClient
    spec: ModelSpec
    image: ImagePayload
    parameters: Mapping[str, Any]
    max_bytes: int
    remember: Remember | None = None

    def sent(self, provider: str) -> dict[str, Any]:
        """The parameters `provider` gets: the call's over the model's own for it."""
        return {**self.spec.parameters_for(provider), **self.parameters}

    async def new(self) -> VideoResult:
        """A clip bought from the first provider that takes the request."""
        client = self.client

        async def attempt(route: Route, call: Call) -> bytes:
            adapter = client.video_adapter(route.provider)
            params = self.sent(route.provider)
            require_prompt(route, params)
            request = await self._request(adapter, route, params)
            response = await submit(call, request)
            ticket = ClipTicket(
                route.provider,
                route.provider_id,
                route.task,
                json_object(response, route.provider),
                created=time.time(),
            )
            await self._remember(ticket)  # paid: from here on a retry resumes, never re-submits
            return await self._finish(call, adapter, request, ticket)

        routes = await client.video_routes(self.spec)
        data, route, retries, note = await client.failover(
            self.spec, routes, attempt, client.video_poll
        )
        return self._result(data, route, retries, note)

    async def resumed(self, ticket: ClipTicket) -> VideoResult:
        """The clip of a request an earlier try paid for: polled or downloaded, not bought."""
        client = self.client
        route = Route(ticket.provider, ticket.provider_id, self.spec.repo, ticket.task)
        adapter = client.video_adapter(route.provider)

        async def attempt(route: Route, call: Call) -> bytes:
            call.submitted = True  # an earlier try paid: no failover, no new submit
            request = await self._request(adapter, route, self.sent(route.provider))
            return await self._finish(call, adapter, request, ticket)

        log.info("%s: resuming the clip request paid on %s", self.spec.repo, route.provider)
        calls: list[Call] = []
        data = await client.ask(self.spec, route, attempt, client.video_poll, calls)
        what = "request" if ticket.url is None else "download"
        result = self._result(
            data, route, sum(c.retries for c in calls), f"the clip {what} of an earlier try"
        )
        return replace(result, resumed=True)

    async def _request(
        self, adapter: VideoAdapter, route: Route, params: Mapping[str, Any]
    ) -> Request:
        """The submit as built for this provider (a resumption needs its URL and headers)."""
        sent = await fit_image(self.image, adapter.max_image_chars)
        return adapter.build(self.client.ctx, route, sent, params)

    async def _remember(self, ticket: ClipTicket) -> None:
        if self.remember is not None:
            await self.remember(ticket)

    async def _finish(
        self, call: Call, adapter: VideoAdapter, request: Request, ticket: ClipTicket
    ) -> bytes:
        """Poll a paid request to its clip URL (unless the ticket knows it), then download."""
        if ticket.url is None:
            url = await adapter.fetch(call, self.client.ctx, request, ticket.submitted)
            ticket = replace(ticket, url=url)
            await self._remember(ticket)
        if ticket.url is None:  # pragma: no cover - set just above
            raise ProviderRejected(f"{call.provider}: no clip URL")
        return await download_clip(call, ticket.url, self.max_bytes)

    def _result(self, data: bytes, route: Route, retries: int, note: str) -> VideoResult:
        """What came back, with the length the serving provider was asked for."""
        sent = self.sent(route.provider)
        return VideoResult(
            data,
            route.provider,
            route.provider_id,
            task=route.task,
            retries=retries,
            seconds=asked_seconds(sent),
            frames=asked_frames(sent),
            note=note,
        )
