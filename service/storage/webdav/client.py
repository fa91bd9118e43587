"""HTTP for WebDAV: URL building, retries with backoff, and the status → error mapping.

One place decides what a status means, so every verb behaves alike:

    423 locked, 425 too early, 429 throttled, 500/502/503/504, timeouts, dropped connections
        → retried with backoff (Retry-After honoured), then StorageUnavailable (the job retries
          later, with the server's hint in `retry_after`)
    401 → StorageError "check OWNCLOUD_USER / app password", at once: looping on 401 feeds
          Nextcloud's brute-force throttle and can lock the account
    403 → StorageError (forbidden), 507 → StorageError (quota), 404 → NotFound

The client is the one shared `httpx.AsyncClient` of the process; we never close it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit

import httpx

from service import metrics
from service.errors import NotFound, StorageError, StorageUnavailable
from service.retry import Attempt, RetryPolicy, attempts, parse_retry_after

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({423, 425, 429, 500, 502, 503, 504})
NETWORK_ERRORS = (httpx.TransportError,)  # timeouts, refused, reset, incomplete bodies


# Four tries over ~7 s cover a lock held by a sync client or a proxy restart; anything longer
# is better handled by the job queue's own backoff than by holding a worker.
STORAGE_RETRY = RetryPolicy(attempts=4, base=1.0, max_delay=8.0, max_wait=30.0, jitter=0.25)


def quote_path(path: str) -> str:
    """Percent-encode each segment of a '/'-path (space, '#', '?', '%', '$' all escaped)."""
    return "/".join(quote(seg, safe="") for seg in path.split("/"))


def _reason(resp: httpx.Response) -> str:
    """A short reason for logs and job records: Sabre's `<s:message>` when present."""
    text = ""
    try:
        body = resp.text
    except httpx.ResponseNotRead:
        body = ""
    if "<s:message>" in body:
        text = body.split("<s:message>", 1)[1].split("</s:message>", 1)[0]
    return f"{resp.status_code} {resp.reason_phrase}" + (f": {text[:200]}" if text else "")


def error_for(resp: httpx.Response, what: str) -> Exception:
    """The exception of our tree for a final, non-success answer."""
    metrics.count_storage_error(resp.status_code)
    code = resp.status_code
    if code == 401:
        return StorageError(
            f"{what}: 401 Unauthorized — check OWNCLOUD_USER / app password (OWNCLOUD_PASSWORD)"
        )
    if code == 403:
        why = _reason(resp)
        return StorageError(f"{what}: 403 Forbidden — not allowed for this account ({why})")
    if code == 404:
        return NotFound(f"{what}: not found")
    if code == 507:
        return StorageError(f"{what}: 507 Insufficient Storage — the account's quota is full")
    if code in RETRY_STATUSES:
        hint = parse_retry_after(resp.headers.get("Retry-After"))
        return StorageUnavailable(f"{what}: {_reason(resp)}", retry_after=hint)
    return StorageError(f"{what}: {_reason(resp)}")


class DavClient:
    """Requests against one server, relative to its base URL, with bounded retries."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        auth: httpx.Auth | None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http = client
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        self.origin = f"{split.scheme}://{split.netloc}"
        self.auth = auth
        self.retry = retry or STORAGE_RETRY
        self.requests = 0  # sent, for `check` and the bench

    def url(self, server_path: str) -> str:
        """Absolute URL of an already-quoted server path ('/remote.php/...')."""
        return self.origin + server_path

    async def _again(self, attempt: Attempt, exc: StorageUnavailable, what: str) -> None:
        """Wait for another try, or raise `exc` now (tries spent, or the server asks for a
        longer wait than a worker should idle)."""

        def announce(wait: float) -> None:
            log.info("%s: %s; retry %d in %.1fs", what, exc, attempt.number, wait)

        if not await attempt.again(exc.retry_after, announce=announce):
            raise exc

    async def call(
        self,
        method: str,
        url: str,
        *,
        what: str,
        ok: Callable[[httpx.Response], bool] = lambda r: r.is_success,
        headers: Mapping[str, str] | None = None,
        content: bytes | Callable[[], AsyncIterator[bytes]] | None = None,
        http_timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send and read the whole answer; retry transient failures; raise on a final error.

        `content` may be a factory of an async byte stream, called once per try so a retried
        upload sends the whole body again. `ok` says which answers are not errors (so a
        caller can accept 404 or 405 and look at them itself).
        """
        async with self._exchange(
            method, url, what, ok, headers, content, http_timeout, stream=False
        ) as resp:
            return resp

    def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        content: bytes | Callable[[], AsyncIterator[bytes]] | None,
        http_timeout: httpx.Timeout | None,
    ) -> httpx.Request:
        self.requests += 1
        body = content() if callable(content) else content
        return self.http.build_request(
            method,
            url,
            headers=headers,
            content=body,
            timeout=http_timeout if http_timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        what: str,
        ok: Callable[[httpx.Response], bool] = lambda r: r.is_success,
        headers: Mapping[str, str] | None = None,
        content: bytes | Callable[[], AsyncIterator[bytes]] | None = None,
        http_timeout: httpx.Timeout | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Like `call`, but yields the response with its body unread (for downloads).

        Only getting the headers is retried here; a body that breaks off later is the
        caller's to retry (see `retrying`), because only it knows where to resume.
        """
        async with self._exchange(
            method, url, what, ok, headers, content, http_timeout, stream=True
        ) as resp:
            yield resp

    @asynccontextmanager
    async def _exchange(
        self,
        method: str,
        url: str,
        what: str,
        ok: Callable[[httpx.Response], bool],
        headers: Mapping[str, str] | None,
        content: bytes | Callable[[], AsyncIterator[bytes]] | None,
        http_timeout: httpx.Timeout | None,
        *,
        stream: bool,
    ) -> AsyncIterator[httpx.Response]:
        """The retry loop of `call` and `stream`: the first answer `ok` accepts, or the error.

        Unless streaming, the body is read inside the try, so an answer that breaks off
        half-way is retried like a refused connection.
        """
        for attempt in attempts(self.retry):
            req = self._request(method, url, headers, content, http_timeout)
            try:
                resp = await self.http.send(req, auth=self.auth, stream=stream)
            except NETWORK_ERRORS as exc:
                await self._again(attempt, _unreachable(what, exc), what)
                continue
            try:
                if ok(resp):
                    yield resp
                    return
                await resp.aread()
            finally:
                await resp.aclose()
            await self._again(attempt, _transient_or_raise(resp, what), what)
        raise AssertionError("unreachable")  # pragma: no cover

    async def retrying(self, what: str, attempt_fn: Callable[[], Awaitable[object]]) -> object:
        """Run a whole exchange again when its body broke off (dropped connection)."""
        for attempt in attempts(self.retry):
            try:
                return await attempt_fn()
            except NETWORK_ERRORS as exc:
                await self._again(attempt, _unreachable(what, exc), what)
        raise AssertionError("unreachable")  # pragma: no cover


def _unreachable(what: str, exc: Exception) -> StorageUnavailable:
    """A timeout, a refused or dropped connection, as the transient error it is."""
    return StorageUnavailable(f"{what}: {type(exc).__name__} {exc}".strip())


def _transient_or_raise(resp: httpx.Response, what: str) -> StorageUnavailable:
    """The error of a final answer: returned when worth another try, raised when not."""
    err = error_for(resp, what)
    if not isinstance(err, StorageUnavailable):
        raise err
    return err
