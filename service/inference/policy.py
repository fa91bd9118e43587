"""The error policy of remote calls: what a status code means, and how long to wait.

Decided here, where the answer is born (the classes are drawn in `service.errors`):

    ProviderDown          5xx / timeouts still failing after our retries: try the next provider
    PaymentRequired       402: credits exhausted or PAYG refused: try the next provider
    ModelNotServed        no live mapping, or "Model not supported by provider": the mapping
                          is dropped; when no provider is left, the step's fallback runs

429 and 5xx are retried with backoff honouring Retry-After; 400/401/403/404/422 fail at once
with the provider's own message and the router's request id, so a person can act on it.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from service import metrics
from service.errors import (
    ModelNotServed,
    PaymentRequired,
    PhotoRestoreError,
    ProviderDown,
    ProviderRejected,
    ProviderUnavailable,
)
from service.retry import RetryPolicy, parse_retry_after

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_NOT_SUPPORTED = re.compile(r"not supported by provider", re.IGNORECASE)
_RATELIMIT_T = re.compile(r"\bt=(\d+(?:\.\d+)?)")


# Four tries over roughly 1 + 2 + 4 s ride out a provider's brief overload without parking a
# worker; a hint beyond a minute ends the call, and the job is retried later instead.
PROVIDER_RETRY = RetryPolicy(attempts=4, base=1.0, max_delay=20.0, max_wait=60.0, jitter=0.1)


def retry_after(response: httpx.Response) -> float | None:
    """The server's wait hint in seconds: Retry-After (seconds or HTTP date) or RateLimit t=."""
    hint = parse_retry_after(response.headers.get("retry-after"))
    if hint is not None:
        return hint
    limit = response.headers.get("ratelimit")
    if limit and (m := _RATELIMIT_T.search(limit)):
        return float(m.group(1))
    return None


def request_id(response: httpx.Response) -> str | None:
    """The router's id for this request, what HF support asks for."""
    found: str | None = response.headers.get("x-request-id") or response.headers.get(
        "x-amzn-trace-id"
    )
    return found


def server_message(response: httpx.Response) -> str:
    """The provider's own explanation, from the usual places, short enough for a job record."""
    parts: list[str] = []
    header = response.headers.get("x-error-message")
    if header:
        parts.append(header)
    body: Any = None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        parts.extend(_messages_from(body))
    elif response.content and not parts:
        parts.append(response.text[:300])
    text = "; ".join(dict.fromkeys(p.strip() for p in parts if p and p.strip()))
    return text[:1000] or response.reason_phrase or f"HTTP {response.status_code}"


def _messages_from(body: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("error", "error_description", "message", "detail"):
        value = body.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            out.extend(_messages_from(value))
        elif isinstance(value, list):  # fal: [{"loc": [...], "msg": "...", "type": ...}]
            for item in value:
                if isinstance(item, dict) and "msg" in item:
                    loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    out.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
                elif isinstance(item, str):
                    out.append(item)
                elif isinstance(item, dict) and "message" in item:
                    out.append(str(item["message"]))
    return out


def is_retryable(status: int) -> bool:
    """429 and server-side failures may pass on their own."""
    return status in RETRY_STATUSES or status >= 500


def rejection(response: httpx.Response, provider: str) -> ProviderRejected:
    """The permanent error for a 4xx answer, keeping the provider's words and the request id."""
    status = response.status_code
    metrics.count_provider_error(provider, status)
    message = server_message(response)
    rid = request_id(response)
    text = f"{provider} refused the request (HTTP {status}): {message}"
    if rid:
        text += f" [request id {rid}]"
    if status == 402:
        return PaymentRequired(text, status=status, request_id=rid)
    if status in (400, 404) and _NOT_SUPPORTED.search(message):
        return ModelNotServed(text, status=status, request_id=rid)
    return ProviderRejected(text, status=status, request_id=rid)


def unavailable(response: httpx.Response, provider: str, attempts: int) -> ProviderDown:
    metrics.count_provider_error(provider, response.status_code)
    """The transient error once our retries of a 429/5xx are spent."""
    rid = request_id(response)
    text = (
        f"{provider} unavailable (HTTP {response.status_code}) after {attempts} "
        f"attempt(s): {server_message(response)}"
    )
    if rid:
        text += f" [request id {rid}]"
    return ProviderDown(text, retry_after=retry_after(response), status=response.status_code)


def combined_failure(repo: str, failures: list[PhotoRestoreError]) -> PhotoRestoreError:
    """One error for a model no provider would run: transient if any failure may pass."""
    text = f"{repo}: every provider failed: " + " | ".join(str(f) for f in failures)
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
