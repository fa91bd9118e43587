"""The JSON API for the catalog: chains from models.toml, whether each can run now, and what
each step does (so a person can choose a chain knowing which model touches their photo)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.config import costs
from service.config.catalog import ModelSpec, Step
from service.errors import ConfigError
from service.pipeline import registry
from service.runtime.services import Services
from service.web.api_jobs import services_of


def _step(services: Services, step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": step.kind,
        "name": step.name,
        "label": step.label(),
        "params": dict(step.params),
        "fallback": step.fallback,
    }
    if step.kind == "local":
        try:
            out["description"] = registry.get(step.name).description
        except ConfigError:
            out["description"] = "unknown operation"
    elif step.kind == "video":
        model = services.catalog.models[step.name]
        out.update(clip_model(model), prompt=step.prompt or model.prompt)
    elif step.kind == "remote":
        model = services.catalog.models[step.name]
        where = (
            f"dedicated endpoint {model.endpoint}"
            if model.endpoint
            else f"Hugging Face router, provider {model.provider}"
        )
        out.update(
            description=model.description or model.title or model.repo,
            repo=model.repo,
            provider=model.provider,
            where=where,
            prompt=step.prompt or model.prompt,
            price_usd=model.price_usd,
            needs_token=model.needs_token,
            tiles=step.tiles,
            calls=step.calls,
        )
    return out


def clip_model(model: ModelSpec) -> dict[str, Any]:
    """A clip model as the dashboard shows it: what it makes and what one clip costs."""
    return {
        "name": model.name,
        "title": model.title or model.repo,
        "description": model.description or model.title or model.repo,
        "repo": model.repo,
        "provider": model.provider,
        "where": f"Hugging Face router, provider {model.provider}",
        "duration": model.duration,
        "resolution": model.resolution,
        "price_per_second": model.price_per_second,
        "clip_cost": model.clip_cost,
        "needs_token": True,
    }


def catalog_json(services: Services) -> dict[str, Any]:
    """Chains with availability and steps, plus the hand-edit operations."""
    has_token = services.settings.hf_token_value is not None
    chains = []
    for chain in services.catalog.chains.values():
        missing = services.catalog.missing_for(chain, has_token=has_token)
        chains.append(
            {
                "name": chain.name,
                "title": chain.title,
                "description": chain.description,
                "can_run": not missing,
                "missing": missing,
                "default": chain.name == services.default_chain,
                "fidelity": list(chain.fidelity),
                "output": chain.output,
                "output_format": chain.output_format,
                "restores_with": chain.base,
                "steps": [_step(services, s) for s in chain.steps],
                # Before it runs: model calls (a tiled step makes N² of them) and their price.
                "calls": costs.calls(chain),
                "cost_usd": costs.cost_usd(services.catalog, chain),
            }
        )
    clips = [clip_model(m) for m in services.catalog.models.values() if m.makes_clips]
    return {
        "chains": chains,
        "clip_models": clips,
        "default_chain": services.default_chain,
        "has_token": has_token,
        "manual_ops": [
            {"name": o.name, "description": o.description} for o in registry.all_ops() if o.manual
        ],
    }


async def list_chains(request: Request) -> Response:
    """Every chain of models.toml: can it run now (and if not, why), its fidelity levels and
    its steps (local operation or remote model: repo, provider, default prompt)."""
    return JSONResponse(catalog_json(services_of(request)))


routes = [Route("/api/chains", list_chains, methods=["GET"])]
