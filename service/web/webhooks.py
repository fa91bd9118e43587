"""Webhook routes (wired to the parsers in service.watch.webhooks)."""

from __future__ import annotations

from starlette.routing import Route

routes: list[Route] = []
