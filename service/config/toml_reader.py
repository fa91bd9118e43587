"""Typed reading of a parsed TOML document, with mistakes reported as
`<file>: <key>: expected <what>, got <value>`, so a person can fix models.toml without
reading code."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from service.errors import ConfigError


class TomlReader:
    """Typed access to a TOML table that reports mistakes as 'file: key: expected …'."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str, got: object = None) -> ConfigError:
        """The error for `key`: what was expected and what was found."""
        tail = "" if got is None else f", got {got!r}"
        return ConfigError(f"{self.path}: {key}: expected {expected}{tail}")

    def table(self, data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        """The sub-table `key` ({} when absent)."""
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", "a table", value)
        return value

    def string(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        default: str | None = None,
        *,
        required: bool = False,
        choices: Collection[str] | None = None,
    ) -> str | None:
        """A non-empty string (one of `choices` when given), `default` when absent."""
        if key not in data:
            if required:
                raise self.fail(f"{where}{key}", "a string (required)")
            return default
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", "a non-empty string", value)
        if choices is not None and value not in choices:
            raise self.fail(f"{where}{key}", "one of " + ", ".join(choices), value)
        return value

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        default: float | None,
        *,
        minimum: float = 0,
    ) -> float | None:
        """A number at least `minimum`, `default` when absent."""
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self.fail(f"{where}{key}", f"a number ≥ {minimum}", value)
        return float(value)

    def check_keys(self, data: Mapping[str, Any], allowed: Collection[str], where: str) -> None:
        """Refuse a key not in `allowed` (a typo would otherwise be silently ignored)."""
        for key in data:
            if key not in allowed:
                raise self.fail(
                    f"{where}{key}", "one of the keys " + ", ".join(sorted(allowed)), "unknown key"
                )
