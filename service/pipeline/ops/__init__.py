"""Built-in local operations; importing this package registers them all."""

from service.pipeline.ops import geometry  # noqa: F401
