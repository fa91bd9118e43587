"""The process wiring: models.toml is parsed once and that one catalog is handed to everyone."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from service.config.settings import Settings
from service.pipeline.registry import OpContext
from service.pipeline.remote import RemoteExecutor
from service.pipeline.runner import RunContext
from service.runtime.services import Services
from tests.runtime.conftest import REDIS_URL


async def test_a_process_parses_models_toml_once(
    tmp_path: Path, redis: Redis, catalog_parses: list[Path]
) -> None:
    services = await Services.open(Settings(data_dir=tmp_path), REDIS_URL)
    try:
        remote = services.runner.executors["remote"]
        assert isinstance(remote, RemoteExecutor)
        assert remote.catalog is services.catalog
        assert len(catalog_parses) == 1
    finally:
        await services.aclose()


async def test_a_step_is_matched_to_its_chain_by_identity_in_production(
    tmp_path: Path, redis: Redis
) -> None:
    services = await Services.open(Settings(data_dir=tmp_path, hf_token="hf_x"), REDIS_URL)
    try:
        remote = services.runner.executors["remote"]
        assert isinstance(remote, RemoteExecutor)
        chain = services.catalog.chains["restore"]
        step = next(s for s in chain.steps if s.kind == "remote")
        # No chain name in the context: only the step object itself can tell its chain.
        ctx = RunContext(op_context=OpContext(), fidelity="faithful")
        assert remote._chain_of(step, ctx) is chain
        params, _prompt = remote.request_for(step, ctx, services.catalog.models[step.name])
        assert params["guidance_scale"] == chain.fidelity["faithful"]["guidance_scale"]
    finally:
        await services.aclose()
