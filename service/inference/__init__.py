"""The HF router client: one adapter per provider, Hub mapping, failover, shared rate limits.

Public surface: `InferenceClient` (and `build_client` from settings), `InferenceResult`,
`prepare_image` for what leaves the machine, and the errors it adds to `service.errors`.
"""

from service.inference.client import (
    ADAPTERS,
    SUPPORTED,
    InferenceClient,
    InferenceResult,
    build_client,
)
from service.inference.images import ImagePayload, prepare_image, prepare_image_async
from service.inference.policy import ModelNotServed, PaymentRequired, ProviderDown, RetryPolicy
from service.inference.transport import PollPolicy

__all__ = [
    "ADAPTERS",
    "SUPPORTED",
    "ImagePayload",
    "InferenceClient",
    "InferenceResult",
    "ModelNotServed",
    "PaymentRequired",
    "PollPolicy",
    "ProviderDown",
    "RetryPolicy",
    "build_client",
    "prepare_image",
    "prepare_image_async",
]
