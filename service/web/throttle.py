"""Sign-in throttling per client, with one log line per failure for fail2ban.

Each failed password counts against the client's address (as seen through TRUSTED_PROXIES)
for `WINDOW` seconds; after `MAX_FAILURES` the form refuses that client (429, Retry-After)
without even looking at the password, until the window has passed. A success clears the
count. Counts live in Redis, so every web replica sees the same ones.

Every failure logs `sign-in failed from <address>` at WARNING and every refusal
`sign-in refused from <address>`: the lines a fail2ban filter matches (deploy/fail2ban.md).
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from service.constants import LOGIN_FAILURES_KEY

log = logging.getLogger("service.web.signin")
MAX_FAILURES = 10
WINDOW = 15 * 60


def _key(client: str) -> str:
    return LOGIN_FAILURES_KEY + client


async def wait_needed(redis: Redis, client: str) -> int:
    """Seconds this client must wait before trying again (0: it may try now)."""
    raw = await redis.get(_key(client))
    if raw is None or int(raw) < MAX_FAILURES:
        return 0
    ttl = await redis.ttl(_key(client))
    wait = int(ttl) if ttl and int(ttl) > 0 else WINDOW
    log.warning("sign-in refused from %s: too many failed attempts, %d s left", client, wait)
    return wait


async def failed(redis: Redis, client: str) -> None:
    """Count a wrong password and say so in the log."""
    key = _key(client)
    await redis.set(key, 0, ex=WINDOW, nx=True)  # the window opens with the first failure
    count = await redis.incr(key)  # INCR keeps the key's expiry
    log.warning("sign-in failed from %s (%d in %d min)", client, count, WINDOW // 60)


async def succeeded(redis: Redis, client: str) -> None:
    """A right password: this client starts afresh."""
    await redis.delete(_key(client))
