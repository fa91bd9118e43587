"""Throughput and CPU cost of the inference client against the fake router.

    .venv/bin/python bench/bench_inference.py [--latency 1.0] [--scans 64] [--concurrency 16]

For each provider the fake router answers after a fixed latency L (async providers: the job
completes L after submit). N scans go through C concurrent calls; the ideal throughput is C/L
and we print ours as a ratio of it (goal ≥ 0.95). CPU time of the event-loop thread per call
is compared with a bare `httpx` POST of the same body (the floor). The fake router runs in its
own process (`python -m tests.fakerouter`), so it shares neither our GIL nor our CPU time.
Async providers pay for polling granularity: their ratio is L / (first poll ≥ L + round trips).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.config.catalog import ModelSpec
from service.inference import ImagePayload, InferenceClient, prepare_image

PROVIDERS = ("fal-ai", "replicate", "wavespeed", "together", "hf-inference")
REPO = "bench/model"


@contextlib.contextmanager
def fake_router(**options: object) -> Iterator[str]:
    """The fake router in a child process; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakerouter", json.dumps(options)],
        cwd=Path(__file__).resolve().parents[1],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


async def _calls(http: httpx.AsyncClient, url: str) -> int:
    return int((await http.get(f"{url}/_fake/calls")).json()["calls"])


def _payload() -> ImagePayload:
    gradient = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
    return prepare_image(gradient, 1_048_576)


async def _run(n: int, c: int, call: object) -> tuple[float, float]:
    sem = asyncio.Semaphore(c)

    async def one() -> None:
        async with sem:
            await call()  # type: ignore[operator]

    cpu0, t0 = time.thread_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - t0, time.thread_time() - cpu0


async def bench_provider(
    provider: str, payload: ImagePayload, latency: float, n: int, c: int
) -> dict[str, float]:
    mapping = {REPO: {provider: f"bench/{provider}-model" if provider != "hf-inference" else REPO}}
    with fake_router(delay=latency, mappings=mapping, transform=False) as url:
        limits = httpx.Limits(max_connections=4 * c, max_keepalive_connections=4 * c)
        async with httpx.AsyncClient(limits=limits) as http:
            client = InferenceClient(
                http,
                router_url=url,
                hub_url=url,
                token="hf_bench",
                provider_limits={provider: c},
            )
            spec = ModelSpec(name="b", repo=REPO, provider=provider, timeout=60, max_concurrency=c)
            params = {"prompt": "restore"} if provider != "hf-inference" else {}
            await client.image_to_image(spec, payload, params)  # warm: mapping, connections
            before = await _calls(http, url)
            wall, cpu = await _run(n, c, lambda: client.image_to_image(spec, payload, params))
            requests = (await _calls(http, url) - before - 1) / n
    return {"ratio": (n / wall) / (c / latency), "cpu_ms": 1000 * cpu / n, "requests": requests}


async def bench_bare(payload: ImagePayload, latency: float, n: int, c: int) -> float:
    """CPU ms per bare httpx POST of the same JSON body, answered after the same latency."""
    with fake_router(delay=latency, mappings={REPO: {"together": "x"}}, transform=False) as r:
        limits = httpx.Limits(max_connections=4 * c, max_keepalive_connections=4 * c)
        async with httpx.AsyncClient(limits=limits) as http:
            body = {
                "prompt": "restore",
                "reference_images": [payload.data_url()],
                "model": "x",
                "response_format": "base64",
            }
            url = f"{r}/together/v1/images/generations"

            async def post() -> None:
                response = await http.post(url, json=body, headers={"authorization": "Bearer x"})
                response.raise_for_status()
                response.json()

            await post()
            _, cpu = await _run(n, c, post)
    return 1000 * cpu / n


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--scans", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args()
    payload = _payload()
    L, n, c = args.latency, args.scans, args.concurrency
    print(
        f"L={L:g}s N={n} C={c} payload={len(payload.data) / 1024:.0f} KiB JPEG; "
        f"ideal {c / L:.1f} calls/s"
    )
    floor = await bench_bare(payload, L, n, c)
    print(
        f"{'provider':<13} {'throughput/ideal':>17} {'req/call':>9} {'CPU ms/call':>12} "
        f"{'vs bare httpx':>14}"
    )
    for provider in args.providers.split(","):
        r = await bench_provider(provider, payload, L, n, c)
        print(
            f"{provider:<13} {r['ratio']:>17.3f} {r['requests']:>9.1f} {r['cpu_ms']:>12.2f} "
            f"{r['cpu_ms'] / floor:>13.2f}x"
        )
    print(f"{'bare httpx':<13} {'':>17} {1.0:>9.1f} {floor:>12.2f} {1.0:>13.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
