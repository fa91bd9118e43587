"""HTTP dates (RFC 9110 IMF-fixdate, and the obsolete forms servers still send), read once:
`Retry-After` (`service.retry`), `Last-Modified` and WebDAV's `getlastmodified`."""

from __future__ import annotations

from email.utils import parsedate_to_datetime


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date as a Unix time, or None when absent or unreadable."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
