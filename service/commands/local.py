"""`photo-restore restore FILE...`: restore local files now, with no queue and no server."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from service import formats
from service.config.catalog import Catalog, Chain
from service.config.settings import Settings
from service.errors import ConfigError, PhotoRestoreError
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, StepRecord
from service.runtime.services import build_executors, load_checked_catalog, make_http_client


def restore(settings: Settings, args: argparse.Namespace) -> int:
    """Restore each FILE into DIR (default ./restored); 1 when any file failed."""
    catalog = load_checked_catalog(settings)
    name = args.chain or catalog.choose_default(
        settings.default_chain, has_token=settings.hf_token_value is not None
    )
    chain = catalog.chain(name)
    missing = catalog.missing_for(chain, has_token=settings.hf_token_value is not None)
    if missing:
        raise ConfigError(f"chain {name!r} cannot run: " + "; ".join(missing))
    out_dir: Path = args.output or Path("restored")
    for f in args.files:
        if not f.is_file():
            raise ConfigError(f"{f}: no such file")
    return asyncio.run(_restore_all(settings, catalog, chain, list(args.files), out_dir))


async def _restore_all(
    settings: Settings, catalog: Catalog, chain: Chain, files: list[Path], out_dir: Path
) -> int:
    console = Console(stderr=True, soft_wrap=True)
    failures = 0
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    async with make_http_client() as http:
        redis = None
        if settings.redis_url:
            from redis.asyncio import Redis

            redis = Redis.from_url(settings.redis_url)
        runner = ChainRunner(build_executors(settings, http, redis, catalog))
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not sys.stderr.isatty(),
        )
        with progress:
            overall = progress.add_task(f"chain {chain.name}", total=len(files))
            for path in files:
                step_task = progress.add_task(f"  {path.name}", total=len(chain.steps))

                async def on_progress(steps: list[StepRecord], task: TaskID = step_task) -> None:
                    done = sum(s.status not in ("pending", "running") for s in steps)
                    progress.update(task, completed=done, total=len(steps))

                target = out_dir / formats.result_name(path.name, chain.output_format)
                try:
                    result = await restore_image(
                        path,
                        chain,
                        runner,
                        settings,
                        fmt=formats.for_name(target.name),
                        on_progress=on_progress,
                    )
                    await asyncio.to_thread(target.write_bytes, result.data)
                    changed = [s.label for s in result.run.steps if s.status == "done"]
                    console.print(
                        f"[green]✓[/] {path} → {target}"
                        f"  ({', '.join(changed) or 'nothing needed fixing'})"
                    )
                except PhotoRestoreError as exc:
                    failures += 1
                    console.print(f"[red]✗[/] {path}: {exc}")
                finally:
                    progress.remove_task(step_task)
                    progress.advance(overall)
        if redis is not None:
            await redis.aclose()
    return 1 if failures else 0
