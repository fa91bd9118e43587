"""Built-in local operations; importing this package registers them all."""

from service.pipeline.ops import (  # noqa: F401
    cleanup,
    detail,
    framing,
    geometry,
    keep,
    manual,
    mask_edit,
    merge,
    repair,
    tone,
)
