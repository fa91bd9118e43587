"""Which of a scan's tags travel to its result: the descriptive ones, never the structural ones.

A TIFF's first IFD is both its EXIF and its layout: `Image.getexif()` on a TIFF answers the
width, the strip offsets and byte counts, the bits per sample, the compression. Copied into the
result, they describe the *old* file — a cropped result then claims the old strips and libtiff
fails ("encoder error -8"), or a reader trusts the wrong layout. So only what says something
about the photo is kept: when and by whom it was made, the camera or scanner, its resolution
and description. The colour profile travels on its own (`icc_profile`), as does the date
taken in the Exif IFD (see `imageio._place_exif_ifds`).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

# IFD0 tags about the photo, not the file's layout.
DESCRIPTIVE = frozenset(
    {
        0x010D,  # DocumentName
        0x010E,  # ImageDescription
        0x010F,  # Make
        0x0110,  # Model
        0x011A,  # XResolution
        0x011B,  # YResolution
        0x011D,  # PageName
        0x0128,  # ResolutionUnit
        0x0131,  # Software
        0x0132,  # DateTime
        0x013B,  # Artist
        0x013C,  # HostComputer
        0x8298,  # Copyright
        # When the photo was taken and digitised, with time zone and fractions: Exif IFD tags
        # that a TIFF we wrote keeps in IFD0 (libtiff cannot write the Exif IFD).
        0x9003,
        0x9004,
        0x9010,
        0x9011,
        0x9012,
        0x9290,
        0x9291,
        0x9292,
    }
)
# Exif IFD tags that describe the old pixels, not the photo: stale after any crop.
STALE_EXIF = frozenset({0xA002, 0xA003, 0xA005})  # PixelX/YDimension, Interoperability IFD


def descriptive(exif: Image.Exif) -> Image.Exif:
    """`exif` with every IFD0 tag removed that is not in DESCRIPTIVE (in place; returned)."""
    for tag in list(exif.keys()):
        if tag not in DESCRIPTIVE:
            del exif[tag]
    return exif


def exif_ifd(values: dict[int, Any]) -> dict[int, Any]:
    """The Exif sub-IFD without the tags that describe the old file's pixels."""
    return {tag: value for tag, value in values.items() if tag not in STALE_EXIF}


# The compressions a TIFF result may keep from its scan (Pillow's names). Anything else — JPEG
# inside a TIFF, fax codes for bilevel scans that were decoded to grey — becomes Deflate.
TIFF_KEPT = {
    "tiff_lzw": "tiff_lzw",
    "tiff_adobe_deflate": "tiff_adobe_deflate",
    "tiff_deflate": "tiff_adobe_deflate",
    "packbits": "packbits",
    "raw": "raw",
}
TIFF_DEFAULT = "tiff_adobe_deflate"


def tiff_compression(source_format: str, source_compression: object) -> str:
    """The compression of a TIFF result: the scan's own when it was a TIFF we can write that
    way, else Deflate (lossless, and read by every TIFF reader)."""
    if source_format != "TIFF" or not isinstance(source_compression, str):
        return TIFF_DEFAULT
    return TIFF_KEPT.get(source_compression, TIFF_DEFAULT)
