"""Fixtures for the pipeline tests: the `classic` chain run through the real runner; for the
clip tests, an inference client on the fake router with a fake clock and real Redis DB 3."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from PIL import Image

from service.config.catalog import Chain, load_catalog
from service.inference import InferenceClient
from service.inference.policy import PROVIDER_RETRY
from service.pipeline.registry import OpContext
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext, RunResult
from tests.inference.inference_support import FakeClock
from tests.redis_test import flushed

CATALOG = Path(__file__).resolve().parents[2] / "service" / "config" / "models.toml"


@pytest.fixture(scope="session")
def classic_chain() -> Chain:
    """The `classic` chain exactly as models.toml ships it."""
    return load_catalog(CATALOG).chain("classic")


@pytest.fixture(scope="session")
def run_classic(classic_chain: Chain) -> Callable[[Image.Image], RunResult]:
    """Run `classic` through the real runner and local executor."""

    def run(image: Image.Image) -> RunResult:
        runner = ChainRunner({"local": LocalExecutor()})
        ctx = RunContext(op_context=OpContext(original_size=image.size))
        return asyncio.run(runner.run(image, classic_chain, ctx))

    return run


@pytest.fixture
def ctx() -> OpContext:
    """A plain operation context."""
    return OpContext()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_client(http: httpx.AsyncClient) -> Callable[..., InferenceClient]:
    """A client of the fake router (pass router_url and hub_url) whose backoff and polls cost
    no real time: its clock moves only when it sleeps."""
    clock = FakeClock()

    def make(**options: object) -> InferenceClient:
        defaults: dict[str, object] = {
            "token": "hf_pipeline_test",
            "sleep": clock.sleep,
            "clock": clock,
            "retry": dataclasses.replace(PROVIDER_RETRY, jitter=0.0),
        }
        defaults.update(options)
        return InferenceClient(http, **defaults)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def redis_db() -> AsyncIterator[aioredis.Redis]:
    """The real Redis, DB 3, flushed before and after."""
    async with flushed(3) as r:
        yield r
