"""A checked clip of a photo, paid for once: the cache, the inference client and the clip check.

    photo → the JPEG that leaves the machine → clip cache hit? → else the provider's clip
          → a whole MP4? (else refused, not kept) → kept in the clip cache
          → length, frames, first frame against the photo, audio stripped if asked → `Clip`

The cache key is that of image steps (the bytes sent, the model, the provider choice, the
parameters, the prompt), in a cache of its own. A clip is kept as soon as it is a whole MP4,
before its content is judged: it was paid for, and the same request would buy the same clip,
so a re-run with the same settings costs nothing and says the same thing; another prompt, seed
or model makes a new clip. Garbage (an HTML page, a cut-off file) is never kept.

This is what the pipeline's video step (round two of issue 11) calls; it knows nothing of
jobs or storage: it answers bytes and what was measured, or raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from service.config.catalog import ModelSpec
from service.constants import CLIP_MAX_BYTES
from service.errors import ConfigError
from service.inference import ImagePayload, InferenceClient, prepare_image_async
from service.inference.video import asked_frames, asked_seconds
from service.pipeline.cache import CLIP_KEYS, StepCache, cache_key
from service.pipeline.clip import ClipRules, check_clip_async, probe_clip
from service.pipeline.remote import provider_choice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    """A clip that passed the check, who made it, what was measured and what it cost."""

    data: bytes
    model: str
    provider: str | None
    provider_id: str | None
    status: str  # "done" (made now) or "cached" (made before, not paid again)
    seconds: float  # measured
    frames: int  # measured
    similarity: float
    asked_seconds: float | None = None
    audio_stripped: bool = False
    retries: int = 0
    cost_usd: float | None = None
    note: str = ""


def clip_cost(price_per_second: float | None, seconds: float | None) -> float | None:
    """Price per video-second × the clip's length: how providers bill clips."""
    if price_per_second is None or seconds is None:
        return None
    return round(price_per_second * seconds, 6)


class ClipMaker:
    """Makes checked clips through an `InferenceClient`, remembering every paid clip."""

    def __init__(
        self, client: InferenceClient, cache: StepCache, rules: ClipRules | None = None
    ) -> None:
        self.client = client
        self.cache = cache
        self.rules = rules or ClipRules()

    async def make(
        self,
        photo: Image.Image,
        spec: ModelSpec,
        parameters: Mapping[str, Any],
        *,
        price_per_second: float | None = None,
        rules: ClipRules | None = None,
    ) -> Clip:
        """A clip of `photo` by `spec` with `parameters` (prompt included), checked by `rules`."""
        rules = rules or self.rules
        if not self.client.has_token:
            raise ConfigError(
                f"model {spec.name} ({spec.repo}) makes clips through the router: set HF_TOKEN"
            )
        sent = await prepare_image_async(photo, spec.max_pixels)
        params = {k: v for k, v in parameters.items() if k != "prompt"}
        prompt = parameters.get("prompt")
        key = cache_key(sent.data, spec.repo, provider_choice(spec), params, prompt)
        seconds, frames = asked_seconds(parameters), asked_frames(parameters)
        data, meta, status, retries, note = await self._fetch(spec, sent, parameters, key, rules)
        checked = await check_clip_async(data, photo, seconds=seconds, frames=frames, rules=rules)
        cost = 0.0 if status == "cached" else clip_cost(price_per_second, checked.probe.seconds)
        log.info(
            "clip of %s by %s via %s: %.2f s, %d frames, similarity %.2f (%s)",
            spec.repo,
            spec.name,
            meta.get("provider"),
            checked.probe.seconds,
            checked.probe.frames,
            checked.similarity,
            status,
        )
        return Clip(
            checked.data,
            model=spec.repo,
            provider=meta.get("provider"),
            provider_id=meta.get("provider_id"),
            status=status,
            seconds=checked.probe.seconds,
            frames=checked.probe.frames,
            similarity=checked.similarity,
            asked_seconds=seconds,
            audio_stripped=checked.audio_stripped,
            retries=retries,
            cost_usd=cost,
            note=note,
        )

    async def _fetch(
        self,
        spec: ModelSpec,
        sent: ImagePayload,
        parameters: Mapping[str, Any],
        key: str,
        rules: ClipRules,
    ) -> tuple[bytes, dict[str, Any], str, int, str]:
        """The clip from the cache, else from a provider (kept once it is a whole MP4)."""
        hit = await self.cache.get(key)
        if hit is not None:
            return hit.data, hit.meta, "cached", 0, "clip from the cache"
        result = await self.client.image_to_video(spec, sent, parameters, max_bytes=rules.max_bytes)
        probe_clip(result.data, rules)  # never keep garbage: an HTML page, a cut-off file
        meta = {"provider": result.provider, "provider_id": result.provider_id, "model": spec.repo}
        await self.cache.put(key, result.data, meta)
        return result.data, meta, "done", result.retries, result.note


def build_clip_maker(
    settings: Any, client: InferenceClient, redis: Any = None, *, rules: ClipRules | None = None
) -> ClipMaker:
    """The worker's and CLI's ClipMaker: its own cache folder (or Redis keys), same budget."""
    cache = StepCache(
        settings.state_dir / "clip-cache",
        settings.cache_max_mb * 1024 * 1024,
        redis,
        keys=CLIP_KEYS,
    )
    return ClipMaker(client, cache, rules or ClipRules(max_bytes=CLIP_MAX_BYTES))
