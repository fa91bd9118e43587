"""The test Redis: one base address for every test folder.

CI uses the machine's Redis on 127.0.0.1:6379; a developer running two checkouts at once points
each at its own server with `TEST_REDIS=redis://127.0.0.1:6390` so their flushes never meet.
"""

from __future__ import annotations

import os

BASE = os.environ.get("TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")


def redis_url(db: int) -> str:
    """The URL of database `db` on the test Redis."""
    return f"{BASE}/{db}"
