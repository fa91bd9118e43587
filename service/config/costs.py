"""What one run of a chain costs before it runs: model calls (a tiled step makes N² of them)
and the estimated spend from the models' `price_usd`, for `photo-restore chains` and the
dashboard."""

from __future__ import annotations

from service.config.catalog import Catalog, Chain


def calls(chain: Chain) -> int:
    """Model calls one run of `chain` makes."""
    return sum(s.calls for s in chain.steps)


def cost_usd(catalog: Catalog, chain: Chain) -> float | None:
    """The estimated spend of one run (None when no model it calls has a price)."""
    remote = [s for s in chain.steps if s.kind == "remote"]
    prices = [(s.calls, catalog.models[s.name].price_usd) for s in remote]
    if not any(price is not None for _, price in prices):
        return None
    return sum(n * (price or 0.0) for n, price in prices)
