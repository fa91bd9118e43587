"""Built-in local operations; importing this package registers them all."""

from service.pipeline.ops import cleanup, detail, framing, geometry, keep, manual, tone  # noqa: F401
