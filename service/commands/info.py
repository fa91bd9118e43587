"""`photo-restore chains` and `photo-restore check`: what is configured and what works."""

from __future__ import annotations

import argparse
import asyncio

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from service.config import costs
from service.config.catalog import Catalog, ModelSpec, Step
from service.config.settings import Settings
from service.errors import PhotoRestoreError
from service.pipeline import registry
from service.runtime.services import load_checked_catalog, make_http_client, open_storage
from service.storage.base import Entry, Storage
from service.storage.paths import nfc, normalize, parent
from service.storage.webdav.detect import ServerInfo
from service.watch.poller import find_inboxes


def _price(model: ModelSpec) -> str:
    """A model's price as the usage report reckons it: per call, or per clip."""
    if model.clip_cost is not None:
        per_second = f"${model.price_per_second:g}/s × {model.duration:g} s"
        return f"${model.clip_cost:.2f} per clip ({per_second})"
    return f"${model.price_usd:.3f} per call" if model.price_usd is not None else ""


def _step_name(step: Step) -> str:
    if step.kind == "video":
        return f"{step.name} (clip)"
    return step.name + (f" ({step.tiles}×{step.tiles} tiles)" if step.tiles > 1 else "")


def chains(settings: Settings, args: argparse.Namespace) -> int:
    """Print chains, their steps (clip steps marked), what one run costs and whether each can
    run with the present settings."""
    catalog = load_checked_catalog(settings)
    has_token = settings.hf_token_value is not None
    default = catalog.choose_default(settings.default_chain, has_token=has_token)
    console = Console()
    table = Table(title=f"Chains in {catalog.path}")
    for col in ("chain", "steps", "calls · cost per photo", "can run", "description"):
        table.add_column(col)
    for chain in catalog.chains.values():
        missing = catalog.missing_for(chain, has_token=has_token)
        steps = " → ".join(_step_name(s) for s in chain.steps)
        if chain.base is not None:
            steps = f"chain {chain.base} → " + " → ".join(
                _step_name(s) for s in chain.steps[chain.base_steps :]
            )
        cost = costs.cost_usd(catalog, chain)
        mark = "default" if chain.name == default else ""
        table.add_row(
            f"{chain.name} {mark}".strip(),
            steps,
            f"{costs.calls(chain)}" + (f" · ≈ ${cost:.2f}" if cost is not None else ""),
            "yes" if not missing else "no: " + "; ".join(missing),
            chain.description,
        )
    console.print(table)
    models = Table(title="Models")
    for col in ("model", "repo", "task", "provider", "endpoint", "price"):
        models.add_column(col)
    for m in catalog.models.values():
        models.add_row(m.name, m.repo, m.task, m.provider, m.endpoint or "", _price(m))
    console.print(models)
    ops = Table(title="Built-in operations")
    ops.add_column("op")
    ops.add_column("what it does")
    for op in registry.all_ops():
        ops.add_row(op.name + (" (hand edit)" if op.manual else ""), op.description)
    console.print(ops)
    return 0


def check(settings: Settings, args: argparse.Namespace) -> int:
    """Validate settings and models.toml, reach storage, Redis and the HF router."""
    return asyncio.run(_check(settings))


class _Report:
    """The lines of `photo-restore check`; one FAIL makes the command exit 1."""

    def __init__(self) -> None:
        self.console = Console()
        self.ok = True

    def line(self, good: bool, what: str, detail: str) -> None:
        self.ok = self.ok and good
        self.console.print(f"{'[green]ok[/]  ' if good else '[red]FAIL[/]'} {what}: {detail}")


async def _check(settings: Settings) -> int:
    report = _Report()
    catalog = load_checked_catalog(settings)
    report.line(
        True,
        "models.toml",
        f"{catalog.path}: {len(catalog.models)} models, {len(catalog.chains)} chains",
    )
    async with make_http_client(timeout=15) as http:
        try:
            await _check_storage(report, settings, http)
        except (PhotoRestoreError, OSError, httpx.HTTPError) as exc:
            report.line(False, "storage", str(exc))
        await _check_redis(report, settings)
        await _check_router(report, settings, http, catalog)
    _print_webhooks(report.console, settings)
    return 0 if report.ok else 1


class _Looked:
    """The storage as `check` looks at it: each folder listed once, each path asked once, and
    a path whose folder was listed answered from that listing (the root is asked by connecting
    already; asking it four times more told nothing new)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._stats: dict[str, Entry | None] = {}
        self._lists: dict[str, list[Entry]] = {}
        root = getattr(storage, "root_entry", None)
        if isinstance(root, Entry):
            self._stats[root.path] = root

    async def stat(self, path: str) -> Entry | None:
        path = normalize(path)
        if path not in self._stats:
            folder = parent(path)
            if path != "/" and folder in self._lists:
                want = nfc(path)
                self._stats[path] = next(
                    (e for e in self._lists[folder] if nfc(e.path) == want), None
                )
            else:
                self._stats[path] = await self.storage.stat(path)
        return self._stats[path]

    async def list(self, path: str) -> list[Entry]:
        path = normalize(path)
        if path not in self._lists:
            self._lists[path] = await self.storage.list(path)
        return self._lists[path]


def _server_line(info: ServerInfo) -> str:
    """What the server offers, in one line (not the capabilities document)."""
    uploads = (
        f"chunking {info.chunking}"
        if info.chunking
        else ("TUS" if info.tus else "one PUT per file")
    )
    watching = (
        "one PROPFIND per poll (etags propagate)"
        if info.etags_propagate
        else "every folder listed per poll (etags do not propagate)"
    )
    return f"uploads: {uploads}; change detection: {watching}"


async def _check_storage(report: _Report, settings: Settings, http: httpx.AsyncClient) -> None:
    """Reach the storage, find the inboxes, and see that results may be written beside them."""
    storage = await open_storage(settings, http)
    try:
        report.line(True, "storage", await storage.check())
        info = getattr(storage, "server_info", None)
        if isinstance(info, ServerInfo):
            report.line(True, "server", _server_line(info))
        looked = _Looked(storage)
        inboxes = await find_inboxes(looked, settings)
        report.line(
            True,
            "inboxes",
            ", ".join(inboxes)
            or f"none under {settings.watch_root} (create a '{settings.inbox_name}' folder)",
        )
        for inbox in inboxes:
            # Results go into the sibling `restored` folder (or it is created in the parent):
            # that folder, else the parent, must let us create files (oc:permissions C/K).
            out = parent(inbox).rstrip("/") + "/" + settings.output_name
            target = await looked.stat(out) or await looked.stat(parent(inbox))
            perms = target.permissions if target else None
            writable = perms is None or any(c in perms for c in "CK")
            where = target.path if target else out
            report.line(
                writable,
                f"  {inbox}",
                f"results go to {out}; "
                + ("writable" if writable else f"no permission to create in {where} ({perms})"),
            )
    finally:
        await storage.aclose()


async def _check_redis(report: _Report, settings: Settings) -> None:
    if not settings.redis_url:
        report.line(True, "redis", "embedded (REDIS_URL unset)")
        return
    try:
        r = Redis.from_url(settings.redis_url)
        await r.ping()
        await r.aclose()
        report.line(True, "redis", "reachable")
    except (RedisError, OSError) as exc:
        report.line(False, "redis", str(exc))


async def _check_router(
    report: _Report, settings: Settings, http: httpx.AsyncClient, catalog: Catalog
) -> None:
    token = settings.hf_token_value
    if token is None:
        offline = [
            c for c, ch in catalog.chains.items() if not catalog.missing_for(ch, has_token=False)
        ]
        report.line(True, "HF router", f"no HF_TOKEN: only local chains run ({', '.join(offline)})")
        return
    try:
        resp = await http.get(
            f"{settings.hf_endpoint}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}
        )
        good = resp.status_code == 200
        report.line(good, "HF token", "valid" if good else f"HTTP {resp.status_code}")
    except httpx.HTTPError as exc:
        report.line(False, "HF endpoint", f"{settings.hf_endpoint}: {exc}")


def _print_webhooks(console: Console, settings: Settings) -> None:
    if settings.webhook_secret is not None:
        console.print(
            f"webhook URL to register: http(s)://<this host>:{settings.port}"
            "/webhooks/nextcloud (Nextcloud) or /webhooks/files (generic), header "
            "X-Webhook-Secret: <WEBHOOK_SECRET>"
        )
    else:
        console.print(
            "webhooks: off (set WEBHOOK_SECRET to accept them); polling every "
            f"{settings.poll_interval:g} s"
        )
