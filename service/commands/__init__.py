"""Implementations of the CLI commands, one module per family."""

from service.commands.info import chains, check
from service.commands.local import restore
from service.commands.run import serve, up, worker

__all__ = ["chains", "check", "restore", "serve", "up", "worker"]
