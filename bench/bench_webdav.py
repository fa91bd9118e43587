"""WebDAV bench: (b) 50 MB down/up via WebDAVStorage vs curl; (a) requests per idle poll.

    .venv/bin/python bench/bench_webdav.py            # both, against Apache mod_dav (Debian)
    .venv/bin/python bench/bench_webdav.py --only b --server wsgidav

(b) runs our client and `curl` against the same server in the same run, best of N, and
prints our time / curl's time (goal <= 1.2x). Our upload is the real atomic write on a plain
WebDAV server (PUT to a temp name, MOVE, PROPFIND); curl does a bare PUT with `-H 'Expect:'`.
(a) lays out 1, 20 and 200 inboxes of 50 files each, lets the real Watcher settle them, then
counts at a proxy every request of 10 × SAFETY_NET_EVERY idle polls (the safety net's share
included) and prints requests per poll (goal <= 1.1 in all three). Apache's folder etags
change only for direct children, so the watcher is told to trust them as it trusts those of
ownCloud, Nextcloud and oCIS; for an idle account the two behave alike. What the same poll
costs without the short-cut (a plain WebDAV server: every folder listed) is printed beside.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.config.catalog import load_catalog
from service.config.settings import Settings
from service.constants import SAFETY_NET_EVERY
from service.queue import MemoryJobQueue
from service.storage.webdav import WebDAVStorage
from service.watch.ledger import MemoryLedger
from service.watch.poller import Watcher
from tests.servers import DavServer, FaultProxy, start_apache, start_wsgidav

SIZE = 50 * 1000 * 1000


def settings(server: DavServer, url: str | None = None) -> Settings:
    return Settings(
        owncloud_url=url or server.url,
        owncloud_user=server.user,  # type: ignore[call-arg]
        owncloud_password=server.password,
        owncloud_dav_path=server.dav_path,
    )


def curl(server: DavServer, args: list[str]) -> float:
    auth = ["-u", f"{server.user}:{server.password}"] if server.user else []
    start = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "-f", "-H", "Expect:", *auth, *args], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


async def bench_transfer(server: DavServer, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    src = work / "src.bin"
    src.write_bytes(os.urandom(SIZE))
    (server.root / "bench").mkdir(exist_ok=True)
    os.chmod(server.root / "bench", 0o777)
    base = server.url + (server.dav_path or "/").rstrip("/") if server.dav_path else server.url
    if server.dav_path:
        base = server.url.rstrip("/") + server.dav_path.rstrip("/")
    times: dict[str, list[float]] = {
        k: [] for k in ("ours down", "curl down", "ours up", "curl up")
    }
    async with httpx.AsyncClient(timeout=60) as client:
        storage = await WebDAVStorage.connect(settings(server), client)
        for i in range(rounds):
            start = time.perf_counter()
            await storage.write_atomic(f"/bench/ours{i}.bin", src)
            times["ours up"].append(time.perf_counter() - start)
            times["curl up"].append(curl(server, ["-T", str(src), f"{base}/bench/curl{i}.bin"]))
            start = time.perf_counter()
            await storage.download(f"/bench/curl{i}.bin", work / "ours.bin")
            times["ours down"].append(time.perf_counter() - start)
            times["curl down"].append(
                curl(server, ["-o", str(work / "curl.bin"), f"{base}/bench/curl{i}.bin"])
            )
            assert (work / "ours.bin").stat().st_size == SIZE
    best = {k: min(v) for k, v in times.items()}
    print(f"(b) 50 MB on {server.name}, best of {rounds}:")
    for way in ("down", "up"):
        ours, theirs = best[f"ours {way}"], best[f"curl {way}"]
        print(
            f"    {way:>4}: ours {ours:.3f}s  curl {theirs:.3f}s  ratio {ours / theirs:.2f}x"
            f"  ({SIZE / ours / 1e6:.0f} MB/s)"
        )
    ours = best["ours down"] + best["ours up"]
    theirs = best["curl down"] + best["curl up"]
    print(f"    round trip (download + upload): ratio {ours / theirs:.2f}x  (goal <= 1.2x)")
    for p in work.iterdir():
        p.unlink()
    work.rmdir()


def _lay_out(server: DavServer, top: str, inboxes: int, per_inbox: int) -> None:
    """`inboxes` inboxes of `per_inbox` small files on the server's disk, under `top`."""
    for i in range(inboxes):
        inbox = server.root / top / f"person {i:03d}" / "to-restore"
        inbox.mkdir(parents=True, exist_ok=True)
        for j in range(per_inbox):
            (inbox / f"scan {j:02d}.jpg").write_bytes(b"x" * 10)
    for d, _, _ in os.walk(server.root / top):
        os.chmod(d, 0o777)


def _watcher(storage: WebDAVStorage, root: str, *, trust: bool | None) -> Watcher:
    cfg = Settings(watch_root=root, settle_seconds=0)  # type: ignore[call-arg]
    catalog = load_catalog(Path("service/config/models.toml"))
    default = cfg.default_chain or catalog.default_chain
    return Watcher(
        storage,
        cfg,
        catalog,
        MemoryJobQueue(),
        MemoryLedger(),
        default_chain=default,
        trust_folder_etags=trust,
    )


async def _idle_polls(
    server: DavServer, proxy: FaultProxy, client: httpx.AsyncClient, root: str, polls: int
) -> tuple[int, int, float, int]:
    """Settle everything, then count `polls` idle polls: (queued at warm-up, requests with
    the etag short-cut, seconds per idle poll, requests of one poll without it)."""
    direct = await WebDAVStorage.connect(settings(server), client)
    counted = await WebDAVStorage.connect(settings(server, proxy.url), client)
    watcher = _watcher(direct, root, trust=True)
    await watcher.poll_once(full=True)
    second = await watcher.poll_once(full=True)
    watcher.storage = counted
    proxy.reset()
    start = time.perf_counter()
    for _ in range(polls):
        await watcher.poll_once()
    per_poll = (time.perf_counter() - start) / polls
    requests = len(proxy.log)
    plain = _watcher(counted, root, trust=False)
    plain.ledger = watcher.ledger
    await plain.poll_once()
    proxy.reset()
    await plain.poll_once()
    return len(second.queued), requests, per_poll, len(proxy.log)


async def bench_idle_poll(server: DavServer, per_inbox: int) -> None:
    polls = 10 * SAFETY_NET_EVERY
    proxy = FaultProxy(server.url)
    print(f"(a) idle polls on {server.name}, {polls} polls each (goal <= 1.1 requests per poll):")
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            for inboxes in (1, 20, 200):
                top = f"poll{inboxes}"
                _lay_out(server, top, inboxes, per_inbox)
                queued, requests, per_poll, plain = await _idle_polls(
                    server, proxy, client, f"/{top}", polls
                )
                print(
                    f"    {inboxes:>3} inboxes, {inboxes * per_inbox:>5} files (queued "
                    f"{queued}): {requests} requests in {polls} polls = "
                    f"{requests / polls:.3f} per poll, {per_poll * 1000:.1f} ms a poll; "
                    f"without the etag short-cut {plain} per poll"
                )
    finally:
        proxy.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["apache", "wsgidav"], default="apache")
    parser.add_argument("--only", choices=["a", "b"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-inbox", type=int, default=50)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dav-"))
    server = start_apache() if args.server == "apache" else start_wsgidav(tmp)
    try:
        if args.only in (None, "b"):
            await bench_transfer(server, args.rounds)
        if args.only in (None, "a"):
            await bench_idle_poll(server, args.per_inbox)
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    asyncio.run(main())
