"""One remote call's budget: a deadline, bounded retries, polling and downloads.

Every HTTP request of a call (submit, status polls, result fetch, download) goes through one
`Call`, so the deadline covers the whole call and a worker never hangs on a provider that
keeps a job queued: past the deadline the call ends with `ProviderUnavailable` and the job is
retried later. Retries happen per request: a failed status poll is polled again, never
re-submitted, because a submit that got through is paid for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from service.errors import ProviderDown, ProviderUnavailable
from service.inference.images import decode_data_url
from service.inference.policy import is_retryable, rejection, retry_after, unavailable
from service.retry import Attempt, RetryPolicy, attempts

T = TypeVar("T")
ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error answer read for its message
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask an asynchronous provider whether it is done.

    0.5 s is what the official clients use; it is kept for the first `steady_for` seconds, when
    most edits finish, then grows so a long queue is not hammered.
    """

    interval: float = 0.5
    steady_for: float = 15.0
    factor: float = 1.5
    max_interval: float = 5.0

    def next_interval(self, current: float, elapsed: float) -> float:
        """The wait before the next poll."""
        if elapsed < self.steady_for:
            return self.interval
        return min(self.max_interval, current * self.factor)


class Call:
    """The requests of one model call on one provider, under one deadline."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: str,
        *,
        deadline: float,
        retry: RetryPolicy,
        poll: PollPolicy,
        sleep: Sleep,
        clock: Clock,
    ) -> None:
        self.http = http
        self.provider = provider
        self.deadline = deadline
        self.retry = retry
        self.poll_policy = poll
        self.sleep = sleep
        self.clock = clock
        self.retries = 0
        # Set once the provider accepted the submit: from then on the call is paid for, so a
        # failure must not send it to another provider (see `base.submit`).
        self.submitted = False

    def remaining(self) -> float:
        """Seconds left before the deadline."""
        return self.deadline - self.clock()

    def expired(self, what: str) -> ProviderUnavailable:
        """The transient error for a call that ran out of time."""
        return ProviderUnavailable(
            f"{self.provider}: {what} before the deadline; the job will be retried later"
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with retries on 429/5xx/timeouts; raise the classified error otherwise.

        With `stream=True` a successful answer comes back unread (the caller reads it and must
        close it), so a large result can be refused from its headers; an error answer is read
        only up to `ERROR_BODY_LIMIT` bytes for its message.
        """
        for attempt in attempts(self.retry, sleep=self.sleep):
            left = self.remaining()
            if left <= 0:
                raise self.expired(f"no answer to {method} {_path(url)}")
            response: httpx.Response | None = None
            failure: Exception | None = None
            try:
                request = self.http.build_request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    json=json,
                    content=content,
                    timeout=httpx.Timeout(left, connect=min(left, 10.0)),
                )
                response = await self.http.send(request, stream=stream)
                if stream and response.status_code >= 400:
                    response = await _bounded_copy(response)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                failure = exc
            if response is not None:
                if response.status_code < 400:
                    return response
                if not is_retryable(response.status_code):
                    raise rejection(response, self.provider)
            hint = retry_after(response) if response is not None else None
            if not await attempt.again(hint, budget=self.remaining(), announce=self._count):
                raise self._given_up(attempt, method, url, response, failure)
        raise AssertionError("unreachable")  # pragma: no cover

    def _count(self, _wait: float) -> None:
        self.retries += 1

    def _given_up(
        self,
        attempt: Attempt,
        method: str,
        url: str,
        response: httpx.Response | None,
        failure: Exception | None,
    ) -> ProviderUnavailable:
        """The error once retrying stops: the last answer's, else the deadline's or the
        connection's."""
        if response is not None:
            return unavailable(response, self.provider, attempt.number)
        if not attempt.last or self.remaining() <= 0:
            return self.expired(f"no answer to {method} {_path(url)}")
        return ProviderDown(
            f"{self.provider}: {type(failure).__name__} on {method} "
            f"{_path(url)} after {attempt.number} attempt(s)"
        )

    async def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """`send`, then the body as a JSON object (a garbled answer counts as a provider fault)."""
        response = await self.send(method, url, **kwargs)
        return json_object(response, self.provider)

    async def download(self, url: str) -> bytes:
        """The bytes behind a result URL (no token: CDNs are third parties) or a data URL."""
        if url.startswith("data:"):
            return decode_data_url(url)
        if not url.startswith(("http://", "https://")):
            return decode_data_url(url)  # some providers answer plain base64
        response = await self.send("GET", url)
        if not response.content:
            raise ProviderDown(f"{self.provider}: empty result at {_path(url)}")
        return response.content

    async def poll(self, check: Callable[[], Awaitable[T | None]], what: str) -> T:
        """Call `check` until it answers, waiting per the poll policy, up to the deadline."""
        started = self.clock()
        interval = self.poll_policy.interval
        while True:
            if self.remaining() <= interval:
                raise self.expired(
                    f"{what} still not finished after {self.clock() - started:.0f} s"
                )
            await self.sleep(interval)
            result = await check()
            if result is not None:
                return result
            interval = self.poll_policy.next_interval(interval, self.clock() - started)


def json_object(response: httpx.Response, provider: str) -> dict[str, Any]:
    """The body as a JSON object; a garbled answer (an HTML page…) counts as a provider fault."""
    try:
        url = str(response.request.url)
    except RuntimeError:  # a response built by hand, without its request
        url = ""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        raise ProviderDown(
            f"{provider}: answer to {_path(url)} is not JSON ({kind})",
            status=response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise ProviderDown(f"{provider}: answer to {_path(url)} is not a JSON object")
    return body


async def _bounded_copy(response: httpx.Response) -> httpx.Response:
    """A streamed error answer, read up to `ERROR_BODY_LIMIT` bytes and closed.

    Error bodies only feed messages; a hostile server must not make us read gigabytes for one.
    """
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= ERROR_BODY_LIMIT:
                break
    finally:
        await response.aclose()
    dropped = ("content-encoding", "content-length", "transfer-encoding")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in dropped}
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=bytes(body[:ERROR_BODY_LIMIT]),
        request=response.request,
    )


def _path(url: str) -> str:
    """A URL without scheme, host and query, for messages (queries may carry tokens)."""
    return httpx.URL(url).path


def default_clock() -> float:
    """Monotonic seconds, the deadline's clock."""
    return time.monotonic()


async def default_sleep(seconds: float) -> None:
    """`asyncio.sleep`, injectable so tests run backoff instantly."""
    await asyncio.sleep(seconds)
