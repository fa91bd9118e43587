"""The HF router client: one adapter per provider, Hub mapping, failover, shared rate limits.

Public surface: `InferenceClient` (and `build_client` from settings), `InferenceResult`,
`prepare_image` for what leaves the machine. Its errors are classes of `service.errors`
(`ProviderDown`, `PaymentRequired`, `ModelNotServed` …).
"""

from service.inference.client import (
    ADAPTERS,
    SUPPORTED,
    InferenceClient,
    InferenceResult,
    build_client,
)
from service.inference.images import ImagePayload, prepare_image, prepare_image_async
from service.inference.transport import PollPolicy

__all__ = [
    "ADAPTERS",
    "SUPPORTED",
    "ImagePayload",
    "InferenceClient",
    "InferenceResult",
    "PollPolicy",
    "build_client",
    "prepare_image",
    "prepare_image_async",
]
