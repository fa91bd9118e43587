"""The executor of `remote` steps: a catalog model run through the inference client.

    parameters = model defaults < step params < chain fidelity level < run overrides
    prompt     = run override   > step prompt  > model prompt   (models without one get none)

The step-result cache is checked first, so a re-run of the same image with the same model and
parameters costs nothing. When the model cannot run (no token and no endpoint, or no provider
serves it) the step's `fallback` local op runs instead, and the record says why.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from PIL import Image

from service.config.catalog import Catalog, Chain, ModelSpec, Step
from service.errors import ConfigError, ModelNotServed, ProviderUnavailable
from service.inference import InferenceClient, build_client, prepare_image_async
from service.pipeline import handoff, registry, tiling
from service.pipeline.cache import StepCache, cache_key
from service.pipeline.runner import RunContext, StepOutcome

log = logging.getLogger(__name__)


class RemoteExecutor:
    """Runs `remote` steps; implements the runner's `StepExecutor`."""

    def __init__(self, catalog: Catalog, client: InferenceClient, cache: StepCache) -> None:
        self.catalog = catalog
        self.client = client
        self.cache = cache

    async def run(self, image: Image.Image, step: Step, ctx: RunContext) -> StepOutcome:
        """Cached result, else the model's answer, else the fallback op; see the module doc."""
        spec = self._model(step)
        if not self.client.can_run(spec):
            return await self._fallback(
                image, step, ctx, spec, f"{spec.repo} needs HF_TOKEN or an endpoint"
            )
        parameters, prompt = self.request_for(step, ctx, spec)
        try:
            if step.tiles > 1:
                outcome = await self._tiled(image, step, spec, parameters, prompt)
            else:
                outcome = await self._ask(image, spec, parameters, prompt)
        except ModelNotServed as exc:
            return await self._fallback(image, step, ctx, spec, str(exc), error=exc)
        # The merge step after this one needs the scan as the model got it, at full size.
        handoff.leave(ctx.op_context, image, spec.repo, fidelity=ctx.fidelity, calls=step.calls)
        return outcome

    async def _ask(
        self, image: Image.Image, spec: ModelSpec, parameters: dict[str, Any], prompt: str | None
    ) -> StepOutcome:
        """One call (or its cached answer) for `image`."""
        sent = await prepare_image_async(image, spec.max_pixels)
        key = cache_key(sent.data, spec.repo, provider_choice(spec), parameters, prompt)
        hit = await self.cache.get(key)
        if hit is not None:
            out = await _decode(hit.data, spec)
            return StepOutcome(
                out,
                status="cached",
                provider=hit.meta.get("provider"),
                model=spec.repo,
                cost_usd=0.0,
                note="result from the step cache",
            )
        send = dict(parameters)
        if prompt is not None:
            send["prompt"] = prompt
        result = await self.client.image_to_image(spec, sent, send)
        out = await _decode(result.data, spec)
        await self.cache.put(
            key,
            result.data,
            {"provider": result.provider, "provider_id": result.provider_id, "model": spec.repo},
        )
        return StepOutcome(
            out,
            status="done",
            provider=result.provider,
            model=spec.repo,
            retries=result.retries,
            cost_usd=spec.price_usd,
            note=result.note,
        )

    async def _tiled(
        self,
        image: Image.Image,
        step: Step,
        spec: ModelSpec,
        parameters: dict[str, Any],
        prompt: str | None,
    ) -> StepOutcome:
        """One call per tile (the client's provider slots bound how many run at once)."""
        tiles = tiling.grid(image.size, step.tiles)
        parts = await asyncio.gather(
            *(self._ask(image.crop(t.box), spec, parameters, prompt) for t in tiles)
        )
        out = await asyncio.to_thread(
            tiling.blend, [p.image for p in parts], tiles, image, step.tiles
        )
        done = [p for p in parts if p.status == "done"]
        return StepOutcome(
            out,
            status="done" if done else "cached",
            provider=next((p.provider for p in parts if p.provider), None),
            model=spec.repo,
            retries=sum(p.retries for p in parts),
            cost_usd=sum(p.cost_usd or 0.0 for p in parts) if spec.price_usd is not None else None,
            note=f"{len(tiles)} tiles ({len(parts) - len(done)} from the step cache)",
        )

    def request_for(
        self, step: Step, ctx: RunContext, spec: ModelSpec
    ) -> tuple[dict[str, Any], str | None]:
        """The merged parameters and prompt this step sends (prompt kept apart for the key)."""
        params: dict[str, Any] = {**spec.parameters, **step.params}
        params.update(self._fidelity(step, ctx))
        params.update(ctx.params)
        params.pop("prompt", None)
        prompt = (
            ctx.params.get("prompt")
            or step.prompt
            or step.params.get("prompt")
            or spec.parameters.get("prompt")
            or spec.prompt
        )
        if prompt is not None and ctx.prompt:
            prompt = ctx.prompt  # a re-run's edited prompt; prompt-less models stay prompt-less
        return params, prompt

    def _model(self, step: Step) -> ModelSpec:
        try:
            return self.catalog.models[step.name]
        except KeyError:
            raise ConfigError(f"step {step.label()!r}: unknown model {step.name!r}") from None

    def _fidelity(self, step: Step, ctx: RunContext) -> Mapping[str, Any]:
        if not ctx.fidelity:
            return {}
        chain = self._chain_of(step, ctx)
        return chain.fidelity.get(ctx.fidelity, {}) if chain is not None else {}

    def _chain_of(self, step: Step, ctx: RunContext) -> Chain | None:
        # The runner hands us the step, not its chain: take the chain named in the op context
        # when the caller put it there, else the catalog chain holding this very step object.
        name = ctx.op_context.extra.get("chain")
        if isinstance(name, str) and name in self.catalog.chains:
            return self.catalog.chains[name]
        for chain in self.catalog.chains.values():
            if any(s is step for s in chain.steps):
                return chain
        return None

    async def _fallback(
        self,
        image: Image.Image,
        step: Step,
        ctx: RunContext,
        spec: ModelSpec,
        reason: str,
        error: Exception | None = None,
    ) -> StepOutcome:
        if not step.fallback:
            if error is not None:
                raise error
            raise ConfigError(
                f"model {spec.name} ({spec.repo}) cannot run: {reason}; set "
                "HF_TOKEN, an endpoint, or a fallback op for the step"
            )
        info = registry.get(step.fallback)
        # The step's params are the model's; the local op runs with its own defaults.
        out = await asyncio.to_thread(info.func, image, ctx.op_context)
        log.info(
            "step %s: ran local %s instead of %s (%s)",
            step.label(),
            step.fallback,
            spec.repo,
            reason,
        )
        return StepOutcome(
            out, status="fallback", model=step.fallback, note=f"{reason}; ran local {step.fallback}"
        )


def provider_choice(spec: ModelSpec) -> str:
    """Part of the cache key: the same image asked of another provider set is another call."""
    if spec.endpoint:
        return f"endpoint:{spec.endpoint}"
    return spec.provider + (":" + ",".join(spec.providers) if spec.providers else "")


async def _decode(data: bytes, spec: ModelSpec) -> Image.Image:
    """The answer as an RGB/L image, decoded in a thread."""

    def decode() -> Image.Image:
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                return im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()
        except (OSError, Image.DecompressionBombError, ValueError) as exc:
            # A garbled answer is the provider's fault and may not happen again.
            raise ProviderUnavailable(
                f"{spec.repo}: the answer is not an image ({type(exc).__name__})"
            ) from None

    return await asyncio.to_thread(decode)


def build_remote_executor(
    settings: Any, http: httpx.AsyncClient, catalog: Catalog, *, redis: Any = None
) -> RemoteExecutor:
    """The worker's and CLI's RemoteExecutor: the process's catalog, the cache, the shared client.

    `redis` (a `redis.asyncio.Redis` with decode_responses=False, as arq's) shares the step
    cache, the provider mapping cache and the provider slots between workers.
    """
    client = build_client(settings, http, redis)
    cache = StepCache(settings.state_dir / "cache", settings.cache_max_mb * 1024 * 1024, redis)
    return RemoteExecutor(catalog, client, cache)
