"""Which providers serve a model: the Hub's provider mapping, filtered and cached with a TTL.

`GET {HF_ENDPOINT}/api/models/{id}?expand[]=inferenceProviderMapping` answers a dict keyed by
provider (or, from list endpoints, a list). We keep entries for our task that are `live` and
spoken by one of our adapters, in the Hub's order, which is the account's preference order.
Mappings churn month to month, so the cache expires (10 min by default) instead of living
forever as in huggingface_hub; it is shared through Redis when given, so N workers ask the
Hub once, and dropped at once when the router says "Model not supported by provider".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import httpx

from service.config.specs import ModelSpec
from service.constants import MAPPING_CACHE_KEY
from service.errors import ModelNotServed, ProviderRejected, ProviderUnavailable
from service.inference.base import USER_AGENT, Route
from service.inference.policy import is_retryable, request_id, server_message

log = logging.getLogger(__name__)

DEFAULT_TTL = 600.0


def parse_mapping(repo: str, payload: Any) -> list[dict[str, Any]]:
    """The mapping as a list of `{provider, providerId, status, task, ...}` in the Hub's order."""
    raw = payload.get("inferenceProviderMapping") if isinstance(payload, dict) else None
    if isinstance(raw, dict):
        return [{"provider": p, **v} for p, v in raw.items() if isinstance(v, dict)]
    if isinstance(raw, list):
        return [m for m in raw if isinstance(m, dict) and "provider" in m]
    return []


def live_routes(
    repo: str,
    entries: Iterable[dict[str, Any]],
    task: str | Collection[str],
    supported: Sequence[str],
) -> list[Route]:
    """Entries usable now: our task (or one of several), status live, a provider we speak.

    Several tasks share one wire format: MiniMax-H3 is mapped as `image-text-to-video` where
    other clip models say `image-to-video`, so a video step accepts both. Each route keeps
    the task of its own mapping entry.
    """
    tasks = {task} if isinstance(task, str) else set(task)
    routes = []
    for m in entries:
        if (
            m.get("task") in tasks
            and m.get("status") == "live"
            and m.get("provider") in supported
            and m.get("providerId")
        ):
            routes.append(
                Route(
                    provider=m["provider"],
                    provider_id=m["providerId"],
                    hf_model_id=repo,
                    task=m["task"],
                    adapter_weights_path=m.get("adapterWeightsPath"),
                )
            )
    return routes


class MappingResolver:
    """Resolves and caches provider mappings (in-process, plus Redis when given)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        hub_url: str,
        token: str | None,
        *,
        redis: Any = None,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        self.http = http
        self.hub_url = hub_url.rstrip("/")
        self._token = token
        self.redis = redis
        self.ttl = ttl
        self._local: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    async def entries(self, repo: str) -> list[dict[str, Any]]:
        """The raw mapping entries of `repo`, from cache or the Hub (one fetch at a time)."""
        cached = self._local.get(repo)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        lock = self._locks.setdefault(repo, asyncio.Lock())
        async with lock:
            cached = self._local.get(repo)
            if cached and cached[0] > time.monotonic():
                return cached[1]
            entries = await self._from_redis(repo)
            if entries is None:
                entries = await self._fetch(repo)
                await self._to_redis(repo, entries)
            self._local[repo] = (time.monotonic() + self.ttl, entries)
            return entries

    async def routes(
        self, repo: str, task: str | Collection[str], supported: Sequence[str]
    ) -> list[Route]:
        """Live routes of `repo` for `task` (or any of several tasks), in the Hub's order."""
        return live_routes(repo, await self.entries(repo), task, supported)

    async def invalidate(self, repo: str) -> None:
        """Forget `repo`'s mapping everywhere: the router told us it is stale."""
        self._local.pop(repo, None)
        if self.redis is not None:
            await self.redis.delete(MAPPING_CACHE_KEY + repo)

    async def _from_redis(self, repo: str) -> list[dict[str, Any]] | None:
        if self.redis is None:
            return None
        raw = await self.redis.get(MAPPING_CACHE_KEY + repo)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, list) else None

    async def _to_redis(self, repo: str, entries: list[dict[str, Any]]) -> None:
        if self.redis is not None:
            await self.redis.set(
                MAPPING_CACHE_KEY + repo, json.dumps(entries), ex=max(1, int(self.ttl))
            )

    async def _fetch(self, repo: str) -> list[dict[str, Any]]:
        url = f"{self.hub_url}/api/models/{repo}"
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        self.fetches += 1
        try:
            response = await self.http.get(
                url, params={"expand[]": "inferenceProviderMapping"}, headers=headers, timeout=30.0
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"Hub API unreachable for {repo}: {type(exc).__name__}"
            ) from None
        if response.status_code == 404:
            log.info("model %s not found on the Hub", repo)
            return []
        if response.status_code >= 400:
            message = f"Hub API {response.status_code} for {repo}: {server_message(response)}"
            if is_retryable(response.status_code):
                raise ProviderUnavailable(message)
            raise ProviderRejected(
                message, status=response.status_code, request_id=request_id(response)
            )
        try:
            return parse_mapping(repo, response.json())
        except ValueError:
            raise ProviderUnavailable(f"Hub API answered non-JSON for {repo}") from None


def chosen_routes(spec: ModelSpec, routes: list[Route], task: str) -> list[Route]:
    """The routes `spec` allows (one provider, or its list in its order); none is an error."""
    if spec.provider != "auto":
        routes = [r for r in routes if r.provider == spec.provider]
    elif spec.providers:
        order = {p: i for i, p in enumerate(spec.providers)}
        routes = sorted((r for r in routes if r.provider in order), key=lambda r: order[r.provider])
    if not routes:
        wanted = spec.provider if spec.provider != "auto" else ", ".join(spec.providers) or "any"
        raise ModelNotServed(f"{spec.repo}: no live {task} mapping for provider(s) {wanted}")
    return routes
