"""The one exception tree of the service.

    PhotoRestoreError
    ├── ConfigError            bad settings or models.toml; the CLI exits 2 with its message
    ├── TransientError         worth retrying with backoff (timeouts, 429, 5xx, 423, 425)
    │   ├── StorageUnavailable
    │   └── ProviderUnavailable
    │       └── ProviderDown           (inference.policy) 5xx/429 after bounded retries
    └── PermanentError         recorded as an explained failure; retrying would not help
        ├── InvalidImage       not an image, empty, truncated, too many pixels
        ├── InvalidClip        a provider's clip failed the clip check (not an MP4, truncated,
        │                      too big, too long or short, not the photo it was made from)
        ├── UnsafePath         `..`, absolute escapes, NUL bytes
        ├── StorageError       403, 507 quota, 401, missing file
        │   └── NotFound
        └── ProviderRejected   400/401/403/422 from the router or a provider
            ├── PaymentRequired    (inference.policy) 402: the next provider may answer
            └── ModelNotServed     (inference.policy) 400 "Model not supported by provider"

Whether an error is transient is decided where it is born (the storage or inference
client knows what a 423 means); the job runner only looks at the class.
"""

from __future__ import annotations


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


class PermanentError(PhotoRestoreError):
    """A failure that retrying cannot fix; it ends the job with this message as its reason."""


class InvalidImage(PermanentError):
    """The input is not a decodable, safe image."""


class InvalidClip(PermanentError):
    """A clip that must not be kept; `reason` is a short code, the message says the rest.

    Reasons: `too-large`, `not-mp4`, `truncated`, `no-video`, `codec`, `duration`, `frames`,
    `size`, `not-the-photo`. A clip is paid for once it exists, so retrying would pay again.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnsafePath(PermanentError):
    """A path tries to leave its root or contains characters we never accept."""


class StorageError(PermanentError):
    """The storage refused for good: forbidden, over quota, bad credentials."""


class NotFound(StorageError):
    """The file or folder does not exist (any more)."""


class ProviderRejected(PermanentError):
    """The router or provider refused the request itself; `request_id` helps support find it."""

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.request_id = request_id
