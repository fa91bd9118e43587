"""The one exception tree of the service: every error a caller may catch is defined here.

    PhotoRestoreError
    ├── ConfigError            bad settings or models.toml; the CLI exits 2 with its message
    ├── TransientError         worth retrying with backoff (timeouts, 429, 5xx, 423, 425)
    │   ├── StorageUnavailable
    │   ├── ProviderUnavailable
    │   │   └── ProviderDown           5xx/429 after bounded retries: another provider may serve
    │   └── LocalOutage        this process's own Redis or disk: the job waits, spending no try
    │       ├── RedisUnavailable       unreachable, loading, read-only, MISCONF, out of memory
    │       └── DiskFull               ENOSPC / EDQUOT on a local write
    └── PermanentError         recorded as an explained failure; retrying would not help
        ├── InvalidImage       not an image, empty, truncated, too many pixels
        ├── EncodeError        the result cannot be written in its format (the encoder refused)
        ├── InvalidClip        a provider's clip failed the clip check (not an MP4, truncated,
        │                      too big, too long or short, not the photo it was made from)
        ├── InvalidEdit        a hand edit's parameters make no sense (a crop outside the frame)
        ├── InvalidRequest     an API request or webhook body we cannot act on (HTTP 400)
        │   ├── WebhookRejected    not a webhook body we understand
        │   └── RequestTooLarge    a body over its route's limit (HTTP 413), refused mid-stream
        ├── Conflict           the job's state does not allow the action (HTTP 409)
        ├── UnsafePath         `..`, absolute escapes, NUL bytes
        │   └── OutsideInboxes     well-formed, but not inside an inbox or its output folder
        ├── StorageError       403, 507 quota, 401, missing file
        │   ├── NotFound
        │   └── UnsafeXML          the server's XML is hostile or broken
        └── ProviderRejected   400/401/403/422 from the router or a provider
            ├── PaymentRequired    402: the next provider may answer
            └── ModelNotServed     400 "Model not supported by provider", or no live mapping

Whether an error is transient is decided where it is born (the storage or inference
client knows what a 423 means); the job runner only looks at the class, and the web app maps
classes to HTTP statuses (`service.web.app.ERROR_STATUS`). Two foreign families are classified
here, once, because they arrive everywhere: redis-py's errors (`from_redis`) and the OS's
"disk full" (`from_os`).
"""

from __future__ import annotations

import errno
import re

from redis import exceptions as redis_errors

__all__ = [
    "ConfigError",
    "Conflict",
    "DiskFull",
    "EncodeError",
    "InvalidClip",
    "InvalidEdit",
    "InvalidImage",
    "InvalidRequest",
    "LocalOutage",
    "ModelNotServed",
    "NotFound",
    "OutsideInboxes",
    "PaymentRequired",
    "PermanentError",
    "PhotoRestoreError",
    "ProviderDown",
    "ProviderRejected",
    "ProviderUnavailable",
    "RedisUnavailable",
    "RequestTooLarge",
    "StorageError",
    "StorageUnavailable",
    "TransientError",
    "UnsafePath",
    "UnsafeXML",
    "WebhookRejected",
]


class PhotoRestoreError(Exception):
    """Base of every error the service raises on purpose."""


class ConfigError(PhotoRestoreError):
    """A setting or a models.toml entry is wrong; the message names where and what was expected."""


class TransientError(PhotoRestoreError):
    """A failure that may pass: the job is retried with backoff.

    `retry_after` carries a server's own hint (Retry-After, RateLimit t=) in seconds.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageUnavailable(TransientError):
    """The storage answered 423/425/429/5xx or not at all."""


class ProviderUnavailable(TransientError):
    """The HF router or a provider is overloaded, timing out or down."""


class ProviderDown(ProviderUnavailable):
    """A provider kept failing (5xx, timeouts) after our retries; another may serve the model."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class LocalOutage(TransientError):
    """Something this process depends on locally is away or full (its Redis, its disk).

    Every job is hit alike, so a job that meets one waits for it to pass without spending one
    of its tries, and no failure note is written: the cause is ours, not the photo's.
    """


class RedisUnavailable(LocalOutage):
    """Redis cannot be reached, is loading, refuses writes (MISCONF, read-only) or is full."""


class DiskFull(LocalOutage):
    """A local write found no space (ENOSPC) or hit a quota (EDQUOT)."""


# Answers of a Redis that is there but cannot take writes now: they pass with the cause
# (a snapshot that failed for a full disk, a replica being promoted, memory freed). A pipeline
# names the command first ("Command # 1 (SET …) of pipeline caused error: MISCONF …").
_REDIS_BUSY = re.compile(r"\b(MISCONF|READONLY|LOADING|OOM|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b")


def from_redis(exc: BaseException) -> RedisUnavailable | None:
    """The outage a redis-py error means, or None for one that is a bug of ours (WRONGTYPE…)."""
    if isinstance(exc, RedisUnavailable):
        return exc
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | ConnectionError):
        return RedisUnavailable(f"Redis unreachable: {type(exc).__name__} {exc}".strip())
    if isinstance(exc, redis_errors.OutOfMemoryError | redis_errors.ReadOnlyError) or (
        isinstance(exc, redis_errors.ResponseError) and _REDIS_BUSY.search(str(exc))
    ):
        return RedisUnavailable(f"Redis refuses writes: {str(exc)[:200]}")
    return None


_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def from_os(exc: BaseException) -> DiskFull | None:
    """DiskFull for an OSError that says the disk (or a quota) is full, else None."""
    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return DiskFull(f"no space left on the local disk: {exc.strerror or exc}")
    return None


class PermanentError(PhotoRestoreError):
    """A failure that retrying cannot fix; it ends the job with this message as its reason."""


class InvalidImage(PermanentError):
    """The input is not a decodable, safe image."""


class EncodeError(PermanentError):
    """The restored picture cannot be written in the result's format: the encoder refused its
    pixels or its metadata. The same pixels would be refused again, so it is not retried."""


class InvalidClip(PermanentError):
    """A clip that must not be kept; `reason` is a short code, the message says the rest.

    Reasons: `too-large`, `not-mp4`, `truncated`, `no-video`, `codec`, `duration`, `frames`,
    `size`, `not-the-photo`. A clip is paid for once it exists, so retrying would pay again.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidEdit(PermanentError):
    """A hand edit (crop, turn, straighten, adjust, keep-original mask) cannot be done as asked;
    the message names the edit and the parameter."""


class InvalidRequest(PermanentError):
    """A request to the dashboard's API is malformed or asks for something impossible."""


class WebhookRejected(InvalidRequest):
    """The body is not a webhook we understand."""


class RequestTooLarge(InvalidRequest):
    """The request's body is over the limit of its route; reading stopped where it passed."""


class Conflict(PermanentError):
    """The job is not in a state where this action makes sense (approve a failed job…)."""


class UnsafePath(PermanentError):
    """A path tries to leave its root or contains characters we never accept."""


class OutsideInboxes(UnsafePath):
    """The path is well-formed but not inside an inbox or its output folder."""


class StorageError(PermanentError):
    """The storage refused for good: forbidden, over quota, bad credentials."""


class NotFound(StorageError):
    """The file or folder does not exist (any more)."""


class UnsafeXML(StorageError):
    """The server's XML is hostile or broken (DOCTYPE, entities, not a multistatus)."""


class ProviderRejected(PermanentError):
    """The router or provider refused the request itself; `request_id` helps support find it."""

    def __init__(
        self, message: str, *, status: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class PaymentRequired(ProviderRejected):
    """402: this provider will not bill this call (credits exhausted, PAYG not enabled)."""


class ModelNotServed(ProviderRejected):
    """No live provider serves the model for this task; the step's local fallback may run."""
