"""Settings and the models.toml catalog, validated in one place at start-up."""

from service.config.catalog import Catalog, Chain, ModelSpec, Step, load_catalog, parse_catalog
from service.config.settings import Settings, load_settings

__all__ = [
    "Catalog",
    "Chain",
    "ModelSpec",
    "Settings",
    "Step",
    "load_catalog",
    "load_settings",
    "parse_catalog",
]
