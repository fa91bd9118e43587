"""Leases that name their owner, so that an owner that is gone is known at once.

    lease = Lease(redis, WATCH_LOCK_KEY, ttl=30)
    if await lease.acquire():      # free, ours, or its owner is gone: ours now
        ...                        # renew with acquire() well within the ttl
    await lease.release()          # on shutdown: the next process need not wait

A lease is one Redis key whose value names its holder: host, PID namespace, pid, the
process's start (boot id + start time from /proc) and a token of the lease itself. Its time
to live is the heartbeat: a holder that stops renewing loses it when the key expires. A holder
on *this* host is known to be gone before that: its pid is not alive, or the pid now belongs
to another process (another start time: a restarted container is pid 1 again). An owner on
another host cannot be checked; only its missed heartbeat tells.

The same identity names a worker's running jobs (`service.jobs.recovery`) and its scratch
folder (`service.runtime.scratch`), so what a dead process left behind is found the same way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from redis.asyncio import Redis

# Compare-and-set and compare-and-delete: a lease is only ever changed by the one who read it.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When the process `pid` started (boot id and clock ticks), None when no such process.

    Without /proc (not Linux) only "alive or not" can be told; alive gives "?".
    """
    stat = _read(f"/proc/{pid}/stat")
    if stat is not None:
        # Field 22 counts from the end of the command name, which may hold spaces and ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        boot = _read("/proc/sys/kernel/random/boot_id") or ""
        return f"{boot}:{fields[19]}" if len(fields) > 19 else None
    if Path("/proc/self").exists():
        return None  # /proc is there and has no such pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    return "?"


def _pid_namespace() -> str:
    with contextlib.suppress(OSError):
        return os.readlink("/proc/self/ns/pid")
    return ""


@dataclass(frozen=True)
class Owner:
    """Who holds something: a process on a host, and which lease of that process."""

    host: str
    ns: str  # PID namespace: two containers on one host name may each have a pid 7
    pid: int
    start: str
    token: str = ""

    @classmethod
    def me(cls, token: str = "") -> Owner:
        """This process (with `token` naming one of its leases)."""
        base = _me()
        return cls(base.host, base.ns, base.pid, base.start, token)

    def encode(self) -> str:
        """The value stored in Redis (compact JSON)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: bytes | str | None) -> Owner | None:
        """An owner read back, or None for a missing or foreign value."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(
                str(data["host"]),
                str(data["ns"]),
                int(data["pid"]),
                str(data["start"]),
                str(data.get("token", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def process(self) -> str:
        """host:pid, for logs and job notes."""
        return f"{self.host}:{self.pid}"

    def here(self) -> bool:
        """True when this owner's process would live on this host, in this PID namespace."""
        me = _me()
        return self.host == me.host and self.ns == me.ns

    def is_gone(self) -> bool:
        """True when the owner's process is known to have ended; False when alive or unknown."""
        if not self.here():
            return False
        start = process_start(self.pid)
        return start is None or (start != "?" and start != self.start)


@functools.cache
def _me() -> Owner:
    pid = os.getpid()
    return Owner(
        socket.gethostname(), _pid_namespace(), pid, process_start(pid) or secrets.token_hex(8)
    )


class Lease:
    """A named Redis lease held by this process; see the module docstring."""

    def __init__(self, redis: Redis, key: str, ttl: float, *, token: str | None = None) -> None:
        self.redis = redis
        self.key = key
        self.ttl = ttl
        self.owner = Owner.me(token or secrets.token_hex(6))
        self.value = self.owner.encode()
        self.took_over: Owner | None = None  # the gone owner of the last take-over, for logs

    async def acquire(self) -> bool:
        """Hold the lease (again): True when it is free, ours, or its owner is gone."""
        ms = int(self.ttl * 1000)
        self.took_over = None
        if await self.redis.set(self.key, self.value, nx=True, px=ms):
            return True
        if await self.redis.eval(_RENEW, 1, self.key, self.value, str(ms)):
            return True
        current = await self.redis.get(self.key)
        if current is None:  # expired between the two calls
            return bool(await self.redis.set(self.key, self.value, nx=True, px=ms))
        holder = Owner.decode(current)
        if holder is None or not holder.is_gone():
            return False
        if await self.redis.eval(_TAKE_OVER, 1, self.key, current, self.value, str(ms)):
            self.took_over = holder
            return True
        return False

    async def holder(self) -> Owner | None:
        """Who holds the lease now (None: nobody, or not one of ours)."""
        return Owner.decode(await self.redis.get(self.key))

    async def release(self) -> bool:
        """Give the lease up if it is still ours; True when it was."""
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.value))
