"""`photo-restore restore FILE...`: restore local files now, with no queue and no server.

Each result is written atomically (a temporary name in the output folder, then a rename), so
an interrupted run never leaves half a file. A chain ending in a clip (`--chain animate`)
writes the photo and the clip beside it (`x.jpg`, `x.mp4`); what a run will cost is printed
before it starts, and a photo whose clip could not be made is written anyway and reported.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import uuid
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
from service.pipeline.restore import Restored, restore_image
from service.pipeline.runner import ChainRunner, StepRecord
from service.runtime.services import build_executors, load_checked_catalog, make_http_client

log = logging.getLogger(__name__)


def restore(settings: Settings, args: argparse.Namespace) -> int:
    """Restore each FILE into DIR (default ./restored); 1 when any file (or clip) failed."""
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


def _write_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` so that it is the old file or the whole new one (blocking)."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _cost_line(catalog: Catalog, chain: Chain, files: int) -> str | None:
    """What the run is estimated to cost, said before it starts (None when nothing is priced)."""
    costs = catalog.costs(chain)
    if not costs:
        return None
    each = sum(usd for _, usd, _ in costs)
    parts = ", ".join(f"{name} ≈ ${usd:.2f} ({how})" for name, usd, how in costs)
    total = f"; {files} files ≈ ${each * files:.2f}" if files > 1 else ""
    return f"chain {chain.name}: ≈ ${each:.2f} per photo at most: {parts}{total}"


async def _deliver(result: Restored, chain: Chain, target: Path) -> tuple[list[str], str | None]:
    """Write the photo (and the clip beside it); the names written and why a clip is missing."""
    await asyncio.to_thread(_write_atomic, target, result.data)
    written = [target.name]
    if not chain.makes_clip:
        return written, None
    if result.clip is not None:
        clip = target.with_name(formats.clip_name(target.name))
        await asyncio.to_thread(_write_atomic, clip, result.clip)
        return [*written, clip.name], None
    failed = [s.note for s in result.run.steps if s.kind == "video" and s.status == "failed"]
    return written, failed[-1] if failed else "the chain made no clip"


async def _restore_all(
    settings: Settings, catalog: Catalog, chain: Chain, files: list[Path], out_dir: Path
) -> int:
    console = Console(stderr=True, soft_wrap=True)
    if (line := _cost_line(catalog, chain, len(files))) is not None:
        console.print(line)
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
                ok = await _restore_one(settings, chain, runner, path, out_dir, progress, console)
                failures += not ok
                progress.advance(overall)
        if redis is not None:
            await redis.aclose()
    return 1 if failures else 0


async def _restore_one(
    settings: Settings,
    chain: Chain,
    runner: ChainRunner,
    path: Path,
    out_dir: Path,
    progress: Progress,
    console: Console,
) -> bool:
    """One file through the chain, its results written; False when anything asked is missing."""
    step_task = progress.add_task(f"  {path.name}", total=len(chain.steps))

    async def on_progress(steps: list[StepRecord], task: TaskID = step_task) -> None:
        done = sum(s.status not in ("pending", "running") for s in steps)
        running = next((s.label for s in steps if s.status == "running"), "")
        label = f"  {path.name}" + (f": {running}" if running else "")
        progress.update(task, completed=done, total=len(steps), description=label)

    target = out_dir / formats.result_name(path.name, chain.output_format)
    try:
        fmt = formats.for_name(target.name)
        result = await restore_image(
            path, chain, runner, settings, fmt=fmt, on_progress=on_progress
        )
        written, no_clip = await _deliver(result, chain, target)
    except PhotoRestoreError as exc:
        console.print(f"[red]✗[/] {path}: {exc}")
        return False
    except Exception as exc:  # one file's bug must not stop the others
        log.debug("restoring %s failed", path, exc_info=True)  # the ✗ line says why
        console.print(f"[red]✗[/] {path}: unexpected error ({type(exc).__name__}: {exc})")
        return False
    finally:
        progress.remove_task(step_task)
    changed = [s.label for s in result.run.steps if s.status == "done"]
    cost = f", ≈ ${result.run.cost_usd:.2f}" if result.run.cost_usd else ""
    console.print(
        f"[green]✓[/] {path} → {out_dir}/{' and '.join(written)}"
        f"  ({', '.join(changed) or 'nothing needed fixing'}{cost})"
    )
    if no_clip is not None:
        console.print(f"[red]✗[/] no clip of {path}: {no_clip}")
    return no_clip is None
