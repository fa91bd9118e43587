"""What a step found out while it ran: reasons to ask a person to look, and measurements.

A local operation returns only an image, yet the merge step has more to say: how far the model
moved the picture, how much each face changed, that the answer had to be set aside. It says so
here, and the runner copies it into the step's record. Like `transforms`, collection lives in a
context variable, so it follows the work into `asyncio.to_thread` and costs nothing when no
runner listens (an operation called directly, in a test or a benchmark, just drops it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Findings:
    """Review reasons (plain sentences for the dashboard) and JSON-ready measurements."""

    review: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)


_CURRENT: ContextVar[Findings | None] = ContextVar("step_findings", default=None)


def ask_review(reason: str) -> None:
    """Ask for the job to be looked at by a person, saying why in one sentence."""
    found = _CURRENT.get()
    if found is not None and reason not in found.review:
        found.review.append(reason)


def measure(name: str, value: Any) -> None:
    """Record a measurement (a number, or a list/dict of JSON values) under `name`."""
    found = _CURRENT.get()
    if found is not None:
        found.measurements[name] = value


@contextlib.contextmanager
def collecting() -> Iterator[Findings]:
    """Collect what everything run inside the block reports."""
    found = Findings()
    token = _CURRENT.set(found)
    try:
        yield found
    finally:
        _CURRENT.reset(token)
