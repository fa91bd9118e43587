"""Fixtures for the pipeline tests: the `classic` chain run through the real runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from service.config.catalog import Chain, load_catalog
from service.pipeline.registry import OpContext
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext, RunResult

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
