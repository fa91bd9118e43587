"""The `photo-restore` command: up, serve, worker, restore, chains, check.

Exit codes: 0 success, 1 a job or check failed, 2 bad usage or configuration (one line
saying what and where).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from service import __version__
from service.config.settings import Settings, load_settings
from service.errors import ConfigError, PhotoRestoreError

log = logging.getLogger("service")


def _setup_logging(settings: Settings | None) -> None:
    level = settings.log_level if settings else "INFO"
    as_json = settings.log_json if settings else False
    from service.logs import setup_logging

    setup_logging(level, as_json, settings=settings)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="photo-restore", description="Restore old scanned photos from ownCloud inboxes."
    )
    p.add_argument("--version", action="version", version=f"photo-restore {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("up", help="dashboard, worker and watcher in one process (embedded defaults)")
    sub.add_parser("serve", help="the web process only (dashboard, API, webhooks)")
    w = sub.add_parser("worker", help="an arq worker only (restoration jobs and polling)")
    w.add_argument("--check", action="store_true", help="exit 0 when a worker is alive (probe)")
    w.add_argument("--no-watch", action="store_true", help="run jobs only; never poll")
    w.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    r = sub.add_parser("restore", help="restore local files now, without queue or server")
    r.add_argument("files", nargs="+", type=Path, metavar="FILE")
    r.add_argument("--chain", help="chain name (default: DEFAULT_CHAIN or models.toml's)")
    r.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="where results go (default: ./restored)",
    )
    sub.add_parser("chains", help="list chains and models, and whether each can run now")
    sub.add_parser("check", help="validate settings and models.toml, reach storage and router")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"photo-restore: {exc}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    from service import commands

    handlers = {
        "up": commands.up,
        "serve": commands.serve,
        "worker": commands.worker,
        "restore": commands.restore,
        "chains": commands.chains,
        "check": commands.check,
    }
    try:
        return handlers[args.command](settings, args)
    except ConfigError as exc:
        print(f"photo-restore: {exc}", file=sys.stderr)
        return 2
    except PhotoRestoreError as exc:
        print(f"photo-restore: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            print("\nstopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
