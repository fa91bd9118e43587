"""The remote step executor end to end against the fake router: cache, failover, fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from service.config.catalog import Catalog, load_catalog, parse_catalog
from service.config.settings import load_settings
from service.errors import ConfigError
from service.inference import InferenceClient, PollPolicy
from service.pipeline.cache import StepCache
from service.pipeline.registry import OpContext
from service.pipeline.remote import RemoteExecutor, build_remote_executor
from service.pipeline.runner import RunContext
from tests.fakerouter import FakeRouter

CATALOG = """
[models.edit]
repo = "black-forest-labs/FLUX.2-dev"
price_usd = 0.03
prompt = "Repair the scratches."
parameters = { guidance_scale = 2.5, num_inference_steps = 28 }

[models.sr]
repo = "caidas/swin2SR-classical-sr-x2-64"

[chains.classic]
[[chains.classic.steps]]
op = "auto_orient"

[chains.fix]
fidelity = { faithful = { guidance_scale = 1.5 } }
[[chains.fix.steps]]
model = "edit"
params = { num_inference_steps = 20, seed = 3 }

[chains.up]
[[chains.up.steps]]
model = "sr"
fallback = "auto_orient"
"""


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def catalog() -> Catalog:
    return parse_catalog(CATALOG, Path("test.toml"))


def executor(
    catalog: Catalog,
    http: httpx.AsyncClient,
    url: str,
    cache_dir: Path,
    *,
    token: str | None = "hf_x",
    redis: object = None,
) -> RemoteExecutor:
    client = InferenceClient(
        http, router_url=url, hub_url=url, token=token, redis=redis, poll=PollPolicy(interval=0.01)
    )
    return RemoteExecutor(catalog, client, StepCache(cache_dir, 10 * 2**20, redis))


def image() -> Image.Image:
    return Image.new("RGB", (64, 48), (100, 80, 60))


def ctx(**kw: object) -> RunContext:
    return RunContext(op_context=OpContext(), **kw)  # type: ignore[arg-type]


async def test_a_cache_hit_makes_zero_calls(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    step = catalog.chains["fix"].steps[0]
    with FakeRouter() as router:
        ex = executor(catalog, http, router.url, tmp_path)
        first = await ex.run(image(), step, ctx())
        calls = len(router.calls)
        second = await ex.run(image(), step, ctx())
        assert len(router.calls) == calls  # nothing at all: no Hub, no provider, no CDN
    assert first.status == "done"
    assert first.cost_usd == 0.03
    assert first.provider == "fal-ai"
    assert second.status == "cached"
    assert second.cost_usd == 0.0
    assert second.provider == "fal-ai"
    assert second.image.tobytes() == first.image.tobytes()


async def test_402_on_fal_is_served_by_replicate_and_costed(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with FakeRouter(fail={"fal-ai": 402}) as router:
        out = await executor(catalog, http, router.url, tmp_path).run(
            image(), catalog.chains["fix"].steps[0], ctx()
        )
        assert router.submits("fal-ai") == 1
        assert router.submits("replicate") == 1
    assert out.provider == "replicate"
    assert out.retries == 1
    assert out.cost_usd == 0.03
    assert out.image.getpixel((0, 0))[0] > 100  # the fake made it brighter


async def test_parameters_merge_model_step_fidelity_then_run_overrides(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    step = catalog.chains["fix"].steps[0]
    with FakeRouter() as router:
        await executor(catalog, http, router.url, tmp_path).run(
            image(), step, ctx(fidelity="faithful", params={"seed": 9}, prompt="Only dust.")
        )
        body = next(c.json for c in router.calls if c.method == "POST")
    assert body["guidance_scale"] == 1.5  # fidelity beats the model default
    assert body["num_inference_steps"] == 20  # the step beats the model
    assert body["seed"] == 9  # the run beats the step
    assert body["prompt"] == "Only dust."


async def test_fallback_runs_when_there_is_no_token(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with FakeRouter() as router:
        out = await executor(catalog, http, router.url, tmp_path, token=None).run(
            image(), catalog.chains["up"].steps[0], ctx()
        )
        assert router.calls == []
    assert out.status == "fallback"
    assert "HF_TOKEN" in out.note


async def test_fallback_runs_when_no_provider_serves_the_model(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with FakeRouter() as router:  # swin2SR has an empty mapping, as on the real Hub
        out = await executor(catalog, http, router.url, tmp_path).run(
            image(), catalog.chains["up"].steps[0], ctx()
        )
        assert router.submits() == 0
    assert out.status == "fallback"
    assert "no live image-to-image mapping" in out.note


async def test_no_token_and_no_fallback_is_a_config_error(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="HF_TOKEN"):
        await executor(catalog, http, "http://127.0.0.1:9", tmp_path, token=None).run(
            image(), catalog.chains["fix"].steps[0], ctx()
        )


async def test_factory_wires_the_processs_catalog_settings_and_cache_folder(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with FakeRouter() as router:
        settings = load_settings(
            hf_token="hf_x", hf_router_url=router.url, hf_endpoint=router.url, data_dir=tmp_path
        )
        catalog = load_catalog(settings.models_file)
        ex = build_remote_executor(settings, http, catalog)
        assert ex.catalog is catalog
        chain = ex.catalog.chain("restore")
        step = next(s for s in chain.steps if s.kind == "remote")
        out = await ex.run(image(), step, ctx())
    assert out.status == "done"
    assert out.model == "black-forest-labs/FLUX.2-dev"
    assert list((tmp_path / ".photo-restore" / "cache").glob("*/*.bin"))


async def test_deadline_with_a_slow_real_server_is_transient(
    catalog: Catalog, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    from service.config.catalog import ModelSpec
    from service.errors import ProviderUnavailable

    with FakeRouter(delay=30.0) as router:
        client = InferenceClient(
            http,
            router_url=router.url,
            hub_url=router.url,
            token="hf_x",
            poll=PollPolicy(interval=0.05),
        )
        spec = ModelSpec(name="x", repo="black-forest-labs/FLUX.2-dev", timeout=0.5)
        from service.inference import prepare_image

        with pytest.raises(ProviderUnavailable):
            await client.image_to_image(spec, prepare_image(image(), 10_000), {"prompt": "x"})
