"""What leaves the machine: a downscaled, re-encoded copy of the image with no metadata.

Scans carry EXIF (camera, dates, sometimes GPS) and ICC profiles; none of it helps a model and
some of it is private, so the image sent is rebuilt from pixels alone. A non-sRGB profile is
converted to sRGB first so that dropping it does not shift colours. The size is capped at the
model's `max_pixels`: providers bill and scale by megapixel, and base64 inflates bodies by 4/3.
All of it is CPU work, so callers run it in a thread (`prepare_image_async`).
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageCms

JPEG_QUALITY = 92  # high enough that the model does not restore our own compression artefacts


@dataclass(frozen=True)
class ImagePayload:
    """The encoded image as sent, with its MIME type and size."""

    data: bytes
    mime: str
    size: tuple[int, int]

    def data_url(self) -> str:
        """`data:<mime>;base64,...`, what fal, replicate, wavespeed and together accept."""
        return f"data:{self.mime};base64,{self.b64()}"

    def b64(self) -> str:
        """Plain base64, what hf-inference's JSON form expects."""
        return base64.b64encode(self.data).decode("ascii")


def _to_srgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "L"):
        return image
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        mode = "RGB" if image.mode != "L" else "L"
        out = ImageCms.profileToProfile(image.convert(mode), src, dst, outputMode="RGB")
        return out if out is not None else image
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image


def fit_size(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio and at most `max_pixels` pixels."""
    w, h = size
    if w * h <= max_pixels:
        return w, h
    scale = math.sqrt(max_pixels / (w * h))
    return max(1, int(w * scale)), max(1, int(h * scale))


def prepare_image(image: Image.Image, max_pixels: int) -> ImagePayload:
    """Downscale to `max_pixels`, convert to sRGB RGB, and encode a clean JPEG (blocking)."""
    im = _to_srgb(image)
    if im.mode in ("RGBA", "LA", "PA"):
        # Transparent areas become white, as on a print, rather than black.
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
        im = background
    elif im.mode != "RGB":
        im = im.convert("RGB")
    target = fit_size(im.size, max_pixels)
    if target != im.size:
        im = im.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    # Rebuild from raw pixels so no info dict (EXIF, ICC, XMP, comments) can ride along.
    clean = Image.frombytes("RGB", im.size, im.tobytes())
    buf = io.BytesIO()
    clean.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False, exif=b"")
    return ImagePayload(buf.getvalue(), "image/jpeg", clean.size)


async def prepare_image_async(image: Image.Image, max_pixels: int) -> ImagePayload:
    """`prepare_image` off the event loop."""
    return await asyncio.to_thread(prepare_image, image, max_pixels)


def decode_data_url(value: str) -> bytes:
    """Bytes of a `data:...;base64,` URL or of plain base64."""
    if value.startswith("data:"):
        value = value.split(",", 1)[1] if "," in value else ""
    return base64.b64decode(value)
