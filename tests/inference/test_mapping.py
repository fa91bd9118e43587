"""The Hub's provider mapping: fetched once for every worker (Redis, DB 3), kept for its TTL."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from service.constants import MAPPING_CACHE_KEY
from service.inference import InferenceClient
from tests.fakerouter import FakeRouter

REPO = "black-forest-labs/FLUX.2-dev"


async def test_mapping_is_fetched_once_for_all_workers_and_expires(
    redis_db: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    with FakeRouter() as router:

        def client() -> InferenceClient:
            return InferenceClient(
                http,
                router_url=router.url,
                hub_url=router.url,
                token="hf_x",
                redis=redis_db,
                mapping_ttl=60,
            )

        a, b = client(), client()
        routes_a = await a.mapping.routes(REPO, "image-to-image", ("fal-ai", "replicate"))
        routes_b = await b.mapping.routes(REPO, "image-to-image", ("fal-ai", "replicate"))
        assert router.count("hub") == 1
        assert [r.provider for r in routes_a] == [r.provider for r in routes_b]
        assert [r.provider for r in routes_a] == ["fal-ai", "replicate"]  # the Hub's order
        assert 0 < await redis_db.ttl(MAPPING_CACHE_KEY + REPO) <= 60
