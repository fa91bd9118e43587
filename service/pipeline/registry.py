"""Built-in local operations, registered by name so models.toml can name them.

An operation is a plain function `op(image, ctx, **params) -> image`. It returns the very
same object when its detector finds nothing to fix; the runner records that as 'skipped'.
Adding an operation is one decorated function in a module under `service.pipeline.ops`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from service.errors import ConfigError


@dataclass
class Ownership:
    """Whether the step now running may write its result into the image it was given, and
    whether it did. A 600-dpi scan is 135 MB (180 MB as Pillow holds RGB): a step that copies
    it holds two while it works, one that writes into it holds one.

    `granted` is the runner's word, given step by step: nothing but the chain holds the image
    (no caller, preview or merge keeps it), so nobody sees it change. `used` is the step's word
    back: the same object it returns holds a new picture, so the step is not 'skipped'.
    """

    granted: bool = False
    used: bool = False

    def may_write(self, image: Image.Image) -> bool:
        """True when the step may change `image` itself (the one it was given)."""
        return self.granted and not image.readonly

    def wrote(self) -> None:
        """Say that the image the step was given now holds its result."""
        self.used = True


@dataclass(frozen=True)
class OpContext:
    """What an operation may need beyond its image."""

    original_size: tuple[int, int] = (0, 0)  # the decoded scan's size, for match_size
    source_format: str = "JPEG"
    extra: dict[str, Any] = field(default_factory=dict)
    ownership: Ownership = field(default_factory=Ownership)  # reset by the runner each step


class LocalOp(Protocol):
    """The shape of a registered operation."""

    def __call__(self, image: Image.Image, ctx: OpContext, /, **params: Any) -> Image.Image: ...


@dataclass(frozen=True)
class OpInfo:
    """A registered operation and its one-line description for `photo-restore chains`."""

    name: str
    func: LocalOp
    description: str
    manual: bool = False  # a hand edit from the dashboard (crop, rotate…), not an automatic fix


_OPS: dict[str, OpInfo] = {}


def register(name: str, description: str, *, manual: bool = False) -> Callable[[LocalOp], LocalOp]:
    """Register `func` under `name`."""

    def deco(func: LocalOp) -> LocalOp:
        if name in _OPS:
            raise RuntimeError(f"operation {name!r} registered twice")
        _OPS[name] = OpInfo(name=name, func=func, description=description, manual=manual)
        return func

    return deco


def _ensure_loaded() -> None:
    import service.pipeline.ops  # noqa: F401 - importing registers every built-in operation


def get(name: str) -> OpInfo:
    """The operation called `name`."""
    _ensure_loaded()
    try:
        return _OPS[name]
    except KeyError:
        raise ConfigError(f"unknown operation {name!r}; known: {', '.join(sorted(_OPS))}") from None


def names() -> list[str]:
    """All registered operation names."""
    _ensure_loaded()
    return sorted(_OPS)


def all_ops() -> list[OpInfo]:
    """All registered operations, sorted by name."""
    _ensure_loaded()
    return [_OPS[n] for n in sorted(_OPS)]
