"""Output formats, in one table: the extension a result gets, the media it holds, and whether a
result can be written in it.

The catalog refuses a chain's `output_format` that no step of the chain can produce, the
watcher names results by it (`result_name`), and the encoder writes only what it lists as an
image format it can write (`writable`). A chain ending in a clip writes the photo by these
rules and the clip beside it as MP4 (`clip_name`). A result is always in the format its name says:
a scan whose own format we do not write (GIF, BMP…) comes back as PNG, named `.png`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class OutputFormat:
    """One format a chain may name in `output_format`."""

    name: str  # as Pillow and models.toml spell it
    extension: str  # what a result in it is named
    media: str = "image"  # what a chain must output to be written in it (see Step.output)
    encodable: bool = True  # a result can be written in it
    why_not: str = ""  # when it cannot: the reason the catalog gives


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("JPEG", ".jpg"),
        OutputFormat("PNG", ".png"),
        OutputFormat("TIFF", ".tif"),
        OutputFormat("WEBP", ".webp"),
        # Pillow could write it, but in 256 colours: the restoration would be undone.
        OutputFormat(
            "GIF",
            ".gif",
            encodable=False,
            why_not="a GIF holds 256 colours, too few for a photo (use PNG for lossless)",
        ),
        # A clip, made by a `video` step and written beside the photo (`clip_name`), not by
        # imageio; a chain's output_format names the photo's format, never this one.
        OutputFormat("MP4", ".mp4", media="video"),
    )
}
# What a result is written in when neither the chain nor the scan's own format can be.
FALLBACK = "PNG"


CLIP = "MP4"  # the one format clips are written in


def clip_name(result: str) -> str:
    """The clip's name beside the photo `result`: `restored/x.jpg` → `restored/x.mp4`."""
    folder, slash, name = result.rpartition("/")
    return folder + slash + _stem(name) + FORMATS[CLIP].extension


def _stem(name: str) -> str:
    """`name` without its extension (a dot-file such as `.jpg` has none)."""
    stem, dot, _ext = name.rpartition(".")
    return stem if dot and stem else name


def choices(media: str) -> list[str]:
    """The formats a chain producing `media` may name."""
    return [f.name for f in FORMATS.values() if f.media == media and f.encodable]


def writable(fmt: str | None) -> str:
    """`fmt` when an image can be written in it, else the fallback (PNG)."""
    found = FORMATS.get((fmt or "").upper())
    if found is None or found.media != "image" or not found.encodable:
        return FALLBACK
    return found.name


def _pillow_format(name: str) -> str | None:
    """The format Pillow reads files named like `name` as (by extension), or None."""
    _stem, dot, ext = name.rpartition(".")
    return Image.registered_extensions().get("." + ext.lower()) if dot else None


def for_name(name: str) -> str | None:
    """The image format a result named `name` is written in, or None when its extension names
    no format we write (then the scan's own format decides, see `writable`)."""
    fmt = _pillow_format(name)
    return fmt if fmt is not None and writable(fmt) == fmt else None


def result_name(name: str, fmt: str | None) -> str:
    """The result's file name: the input's, with the extension of `fmt` when the chain sets
    one, or of the fallback when the input is an image format we do not write."""
    base = _stem(name)
    if fmt:
        return base + FORMATS[fmt].extension
    if _pillow_format(name) is not None and for_name(name) is None:
        return base + FORMATS[FALLBACK].extension
    return name
