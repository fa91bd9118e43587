"""The HF router client: one adapter per provider, Hub mapping, failover, shared rate limits.

Public surface: `InferenceClient` (and `build_client` from settings), `InferenceResult`,
`prepare_image` for what leaves the machine. Its errors are classes of `service.errors`
(`ProviderDown`, `PaymentRequired`, `ModelNotServed` …).
Clips: `InferenceClient.image_to_video` → `VideoResult`, through `VIDEO_ADAPTERS`.
"""

from service.inference.client import (
    ADAPTERS,
    SUPPORTED,
    VIDEO_ADAPTERS,
    VIDEO_SUPPORTED,
    InferenceClient,
    InferenceResult,
    build_client,
)
from service.inference.images import ImagePayload, prepare_image, prepare_image_async
from service.inference.transport import PollPolicy
from service.inference.video import VIDEO_POLL, VIDEO_TASKS, VideoResult

__all__ = [
    "ADAPTERS",
    "SUPPORTED",
    "VIDEO_ADAPTERS",
    "VIDEO_POLL",
    "VIDEO_SUPPORTED",
    "VIDEO_TASKS",
    "ImagePayload",
    "InferenceClient",
    "InferenceResult",
    "PollPolicy",
    "VideoResult",
    "build_client",
    "prepare_image",
    "prepare_image_async",
]
