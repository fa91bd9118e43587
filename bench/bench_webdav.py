"""WebDAV bench: (b) 50 MB down/up via WebDAVStorage vs curl; (a) requests per idle poll.

    .venv/bin/python bench/bench_webdav.py            # both, against Apache mod_dav (Debian)
    .venv/bin/python bench/bench_webdav.py --only b --server wsgidav

(b) runs our client and `curl` against the same server in the same run, best of N, and
prints our time / curl's time (goal <= 1.2x). Our upload is the real atomic write (PUT to a
temp name, MOVE, PROPFIND); curl does a bare PUT with `-H 'Expect:'`.
(a) lays out 10,000 files in 200 inboxes, lets the real Watcher settle them, then counts the
requests of one idle `poll_once()` at a counting proxy (goal: one request per inbox).
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
from service.queue import MemoryJobQueue
from service.storage.webdav import WebDAVStorage
from service.watch.ledger import MemoryLedger
from service.watch.poller import PollReport, Watcher
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


def _lay_out(server: DavServer, inboxes: int, per_inbox: int) -> None:
    """`inboxes` inboxes of `per_inbox` small files on the server's disk."""
    for i in range(inboxes):
        inbox = server.root / "poll" / f"person {i:03d}" / "to-restore"
        inbox.mkdir(parents=True, exist_ok=True)
        for j in range(per_inbox):
            (inbox / f"scan {j:02d}.jpg").write_bytes(b"x" * 10)
    for d, _, _ in os.walk(server.root / "poll"):
        os.chmod(d, 0o777)


async def _count_polls(
    server: DavServer, proxy: FaultProxy, client: httpx.AsyncClient
) -> tuple[float, int, list[tuple[str, str, int]], float, PollReport, int]:
    """Settle everything, then count one idle poll (etags trusted) and one without the
    short-cut: (warm-up s, queued, idle requests, idle s, idle report, plain requests)."""
    direct = await WebDAVStorage.connect(settings(server), client)
    counted = await WebDAVStorage.connect(settings(server, proxy.url), client)
    cfg = Settings(watch_root="/poll", settle_seconds=0)  # type: ignore[call-arg]
    catalog = load_catalog(Path("service/config/models.toml"))
    default = cfg.default_chain or catalog.default_chain
    # ownCloud, Nextcloud and oCIS propagate folder etags up the tree; Apache changes a
    # folder's etag only for direct children. For an *idle* poll both behave alike, so
    # the watcher is told to trust them here to measure the ownCloud case; the count a
    # plain WebDAV server really gets (no trust) is measured after it.
    watcher = Watcher(
        direct,
        cfg,
        catalog,
        MemoryJobQueue(),
        MemoryLedger(),
        default_chain=default,
        trust_folder_etags=True,
    )
    start = time.perf_counter()
    await watcher.poll_once(full=True)
    second = await watcher.poll_once(full=True)
    warm = time.perf_counter() - start
    watcher.storage = counted
    proxy.reset()
    start = time.perf_counter()
    report = await watcher.poll_once()
    idle = time.perf_counter() - start
    idle_log = list(proxy.log)
    plain = Watcher(counted, cfg, catalog, MemoryJobQueue(), watcher.ledger, default_chain=default)
    await plain.poll_once(full=True)
    mark = len(proxy.log)
    await plain.poll_once()
    return warm, len(second.queued), idle_log, idle, report, len(proxy.log) - mark


async def bench_idle_poll(server: DavServer, inboxes: int, per_inbox: int) -> None:
    _lay_out(server, inboxes, per_inbox)
    proxy = FaultProxy(server.url)
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            warm, queued, idle_log, idle, report, plain_requests = await _count_polls(
                server, proxy, client
            )
    finally:
        proxy.stop()
    methods: dict[str, int] = {}
    for method, _, _ in idle_log:
        methods[method] = methods.get(method, 0) + 1
    print(
        f"(a) {inboxes * per_inbox} files in {inboxes} inboxes on {server.name}: warm-up "
        f"{warm:.1f}s queued {queued}; idle poll: {len(idle_log)} requests "
        f"{methods} in {idle:.2f}s, {len(idle_log) / inboxes:.3f} per inbox, "
        f"listed {report.listed}, inboxes {report.inboxes}; ratio to the floor of one "
        f"request per inbox: {len(idle_log) / inboxes:.3f}"
    )
    print(
        f"    without the etag short-cut (plain WebDAV, etags not propagated): "
        f"{plain_requests} requests, {plain_requests / inboxes:.3f} per inbox"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["apache", "wsgidav"], default="apache")
    parser.add_argument("--only", choices=["a", "b"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inboxes", type=int, default=200)
    parser.add_argument("--per-inbox", type=int, default=50)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dav-"))
    server = start_apache() if args.server == "apache" else start_wsgidav(tmp)
    try:
        if args.only in (None, "b"):
            await bench_transfer(server, args.rounds)
        if args.only in (None, "a"):
            await bench_idle_poll(server, args.inboxes, args.per_inbox)
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    asyncio.run(main())
