"""Small JPEG previews of a job's source, intermediate steps and result, kept in Redis.

The dashboard shows them instantly and any web replica can serve them; full-size images are
read from the storage on demand. They expire: history may outlive them, photos never depend
on them.
"""

from __future__ import annotations

import io

from PIL import Image
from redis.asyncio import Redis

from service.constants import PREVIEW_KEY, PREVIEW_TTL
from service.pipeline.aligned import preview_size

PREVIEW_EDGE = 1280


def make_preview(image: Image.Image, edge: int = PREVIEW_EDGE) -> bytes:
    """A JPEG no larger than `edge` pixels on its long side (blocking: run in a thread)."""
    im = (
        image.copy()
        if max(image.size) <= edge
        # The same size as the aligned "before" of the result (one formula for both layers)
        else image.resize(
            preview_size(image.size, edge), Image.Resampling.LANCZOS, reducing_gap=3.0
        )
    )
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


async def save_preview(redis: Redis, job_id: str, slot: str, data: bytes) -> None:
    """Store a preview; `slot` is 'source', 'result' or a step index."""
    await redis.set(f"{PREVIEW_KEY}{job_id}:{slot}", data, ex=PREVIEW_TTL)


async def load_preview(redis: Redis, job_id: str, slot: str) -> bytes | None:
    """A stored preview, or None."""
    data = await redis.get(f"{PREVIEW_KEY}{job_id}:{slot}")
    return bytes(data) if data is not None else None
