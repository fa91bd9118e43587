"""Everything a process needs, built once at start-up and closed at shutdown.

The web app's lifespan, the worker's on_startup and `photo-restore up` all build one
`Services`; no module keeps clients in globals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from arq.connections import ArqRedis, RedisSettings, create_pool

from service.config.catalog import Catalog, load_catalog
from service.config.settings import Settings
from service.constants import QUEUE_NAME
from service.jobs.arq_queue import ArqJobQueue
from service.jobs.records import JobStore
from service.pipeline import registry
from service.pipeline.animate import VideoExecutor
from service.pipeline.clipmaker import build_clip_maker
from service.pipeline.guard import PixelBudget
from service.pipeline.remote import build_remote_executor
from service.pipeline.runner import ChainRunner, LocalExecutor, StepExecutor
from service.storage.base import Storage
from service.watch.ledger import RedisLedger
from service.watch.poller import Watcher

log = logging.getLogger(__name__)


def load_checked_catalog(settings: Settings) -> Catalog:
    """models.toml with every op name checked against the registered operations, resolved for
    this process: `restore_with = "default"` becomes the chain that restores with (or without)
    the token and DEFAULT_CHAIN of these settings."""
    catalog = load_catalog(settings.models_file, local_ops=registry.names())
    return catalog.resolved(
        has_token=settings.hf_token_value is not None, requested=settings.default_chain
    )


def make_http_client(*, timeout: float = 60.0) -> httpx.AsyncClient:
    """The one shared HTTP client: pooled connections, sane timeouts, no env proxies surprises."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        follow_redirects=False,
        headers={"user-agent": "photo-restore/0.1"},
    )


def build_executors(
    settings: Settings, http: httpx.AsyncClient, redis: Any | None, catalog: Catalog
) -> dict[str, StepExecutor]:
    """One executor per step kind: local ops, image models, clip models (sharing one client).

    `catalog` is the process's one parsed models.toml: the remote executor matches a step to
    its chain by identity, which only works on the very objects the chains were run from.
    """
    remote = build_remote_executor(settings, http, catalog, redis=redis)
    clips = build_clip_maker(settings, remote.client, redis)
    return {"local": LocalExecutor(), "remote": remote, "video": VideoExecutor(catalog, clips)}


async def open_storage(settings: Settings, http: httpx.AsyncClient) -> Storage:
    """The user's storage: WebDAV when OWNCLOUD_URL is set, else the local DATA_DIR."""
    if settings.uses_owncloud:
        from service.storage.factory import open_storage as open_remote

        return await open_remote(settings, http)
    from service.storage.local import LocalStorage

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return LocalStorage(settings.data_dir)


@dataclass
class Services:
    """Shared clients and stores of one process."""

    settings: Settings
    catalog: Catalog
    default_chain: str
    redis: ArqRedis
    store: JobStore
    queue: ArqJobQueue
    ledger: RedisLedger
    storage: Storage
    http: httpx.AsyncClient
    runner: ChainRunner
    decode_budget: PixelBudget  # pixels the dashboard's views decode at once (MAX_PIXELS)

    @classmethod
    async def open(
        cls, settings: Settings, redis_url: str, *, catalog: Catalog | None = None
    ) -> Services:
        """Connect to Redis and the storage, load the catalog (unless the caller did)."""
        catalog = catalog or load_checked_catalog(settings)
        default = catalog.choose_default(
            settings.default_chain, has_token=settings.hf_token_value is not None
        )
        redis = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE_NAME)
        http = make_http_client()
        try:
            storage = await open_storage(settings, http)
        except BaseException:
            await http.aclose()
            await redis.aclose()
            raise
        store = JobStore(redis)
        runner = ChainRunner(build_executors(settings, http, redis, catalog))
        return cls(
            settings=settings,
            catalog=catalog,
            default_chain=default,
            redis=redis,
            store=store,
            queue=ArqJobQueue(redis, store),
            ledger=RedisLedger(redis),
            storage=storage,
            http=http,
            runner=runner,
            decode_budget=PixelBudget(settings.max_pixels),
        )

    def watcher(self) -> Watcher:
        """A watcher over this process's storage, queue and ledger."""
        return Watcher(
            self.storage,
            self.settings,
            self.catalog,
            self.queue,
            self.ledger,
            default_chain=self.default_chain,
        )

    async def aclose(self) -> None:
        """Close clients in reverse order of opening."""
        await self.storage.aclose()
        await self.http.aclose()
        await self.redis.aclose()
