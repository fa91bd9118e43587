"""What one clip costs in requests, time and money, with the fake router (prints only).

    .venv/bin/python bench/bench_animate.py      (needs a Redis: BENCH_REDIS, default
                                                  redis://127.0.0.1:6379/9, a database it flushes)

1. Requests per clip per provider: Wan 2.2 through fal-ai, WaveSpeed and together alone, with
   the production poll policy (`VIDEO_POLL`: every 5 s for 30 s, then slower, up to 15 s) on a
   simulated clock, for a provider that takes 0, 55 (WaveSpeed's measured Wan 2.1) and 180 s.
   Counted: every request the fake router saw, Hub mapping and CDN download included.
2. Drop to clip through the whole service (watcher, arq worker, pipeline, local storage), the
   production poll policy on the real clock, the fake router answering at once: the time from
   the scan landing in `to-restore/animate/` to both files in `restored/animate/`, with the
   job's own step timings, and the cost the job records and the catalog shows before a run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.config.settings import Settings
from service.inference import InferenceClient, prepare_image
from service.pipeline.cache import CLIP_KEYS, StepCache
from service.pipeline.clipmaker import ClipMaker
from service.runtime.services import Services, load_checked_catalog
from service.runtime.worker import make_worker
from service.watch.poller import Watcher
from tests.fakerouter import DEFAULT_MAPPINGS, FakeRouter
from tests.images import jpeg_with_exif, photo

REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
WAN22 = "Wan-AI/Wan2.2-I2V-A14B"
PROVIDER_IDS = {
    "fal-ai": "fal-ai/wan/v2.2-a14b/image-to-video",
    "wavespeed": "wavespeed-ai/wan-2.2/i2v-480p",
    "together": WAN22,
}


class SimulatedClock:
    """The client's clock and sleep; the router's jobs finish once `latency` has passed on it."""

    def __init__(self, router: FakeRouter, latency: float) -> None:
        self.router = router
        self.latency = latency
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.now >= self.latency:
            for job in self.router.jobs.values():
                job.ready_at = 0.0
        await asyncio.sleep(0)


async def one_clip(provider: str, latency: float, tmp: Path) -> tuple[dict[str, int], float]:
    """Requests seen per kind for one Wan 2.2 clip through `provider`, and simulated seconds."""
    catalog = load_checked_catalog(Settings(hf_token="hf_bench"))
    spec = catalog.models["wan22-i2v"]
    mappings = {**DEFAULT_MAPPINGS, WAN22: {provider: PROVIDER_IDS[provider]}}
    with FakeRouter(delay=10**6, mappings=mappings) as router:
        clock = SimulatedClock(router, latency)
        async with httpx.AsyncClient() as http:
            client = InferenceClient(
                http,
                router_url=router.url,
                hub_url=router.url,
                token="hf_bench",
                sleep=clock.sleep,
                clock=clock,
            )
            cache = StepCache(tmp / f"{provider}-{latency}", 0, keys=CLIP_KEYS)  # no cache
            params = {"prompt": spec.prompt}
            await ClipMaker(client, cache).make(photo(640, 480), spec, params)
        seen: dict[str, int] = {}
        for call in router.calls:
            kind = {"hub": "mapping", "cdn": "download"}.get(call.provider)
            kind = kind or ("submit" if call.method == "POST" else "poll/result")
            seen[kind] = seen.get(kind, 0) + 1
    return seen, clock.now


async def requests_per_clip() -> None:
    print("1. requests per clip (Wan 2.2, production poll policy, simulated clock)")
    print(f"{'provider':<10} {'latency':>8} {'requests':>9}  breakdown")
    with tempfile.TemporaryDirectory() as tmp:
        for provider in PROVIDER_IDS:
            for latency in (0.0, 55.0, 180.0):
                seen, took = await one_clip(provider, latency, Path(tmp))
                parts = ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))
                total = sum(seen.values())
                print(
                    f"{provider:<10} {latency:>6.0f} s {total:>9}  {parts}; clip after {took:.0f} s"
                )


async def drop_to_clip() -> None:
    print("\n2. drop to clip through the service (production polls, real clock, router at once)")
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    with tempfile.TemporaryDirectory() as tmp, FakeRouter() as router:
        data = Path(tmp) / "data"
        settings = Settings(
            data_dir=data,
            state_dir=Path(tmp) / "state",
            hf_token="hf_bench",
            hf_router_url=router.url,  # type: ignore[arg-type]
            hf_endpoint=router.url,
            settle_seconds=0,
        )
        services = await Services.open(settings, REDIS_URL)
        try:
            scan = data / "Family/to-restore/animate/oma.jpg"
            scan.parent.mkdir(parents=True)
            jpeg_with_exif(scan, size=(1600, 1200))
            started = time.perf_counter()
            watcher = Watcher(
                services.storage,
                settings,
                services.catalog,
                services.queue,
                services.ledger,
                default_chain=services.default_chain,
            )
            for _ in range(2):  # a file settles on the second look
                await watcher.poll_once()
            worker = make_worker(
                settings,
                REDIS_URL,
                services=services,
                watch=False,
                burst=True,
                handle_signals=False,
            )
            await worker.main()
            await worker.close()
            took = time.perf_counter() - started
            (job,) = (await services.store.list())[0]
            clip = data / "Family/restored/animate/oma.mp4"
            print(f"status {job.status}; clip written: {clip.is_file()}; drop to clip {took:.2f} s")
            for step in job.steps:
                where = step.get("provider") or "local"
                print(
                    f"  {step['label']:<22} {step['status']:<8} {step['duration']:6.2f} s  {where}"
                )
            costs = services.catalog.costs(services.catalog.chains["animate"])
            shown = sum(usd for _, usd, _ in costs)
            print(f"cost recorded ${job.cost_usd:.3f}; shown before a run ≈ ${shown:.2f}: {costs}")
        finally:
            await services.aclose()
            await redis.flushdb()
            await redis.aclose()


def main() -> None:
    prepare_image(photo(8, 8), 4096)  # import-time work out of the timings
    asyncio.run(requests_per_clip())
    asyncio.run(drop_to_clip())


if __name__ == "__main__":
    main()
