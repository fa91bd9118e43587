"""What one run of a chain costs before it runs, for `photo-restore chains` and the dashboard:
model calls (a tiled step makes N² of them, a clip one) and the estimated spend
(`Catalog.costs`, which prices a tiled step at its N² calls)."""

from __future__ import annotations

from service.config.catalog import Catalog, Chain


def calls(chain: Chain) -> int:
    """Model calls one run of `chain` makes."""
    return sum(s.calls for s in chain.steps)


def cost_usd(catalog: Catalog, chain: Chain) -> float | None:
    """The estimated spend of one run (None when no model it calls has a price)."""
    priced = catalog.costs(chain)
    return sum(usd for _, usd, _ in priced) if priced else None
