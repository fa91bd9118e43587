"""A hostile-input corpus the tests build themselves: pictures, names, bodies, WebDAV answers.

Every picture is made here, in memory or in a tmp folder, small on disk whatever its header
claims. Each item says what must become of it: `refused` (a clear InvalidImage, a 4xx) or a
correct result. The same corpus feeds the worker, the web routes, the WebDAV client and
`bench/bench_hostile.py`.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms

from service.storage.webdav.xml import MAX_XML_BYTES


@dataclass(frozen=True)
class Picture:
    """One hostile (or borderline but fine) picture and what must become of it."""

    name: str
    data: bytes
    refused: bool
    reason: str = ""  # a word the refusal must contain


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit PNG of zeros: a few hundred KB on disk, `width`×`height` pixels decoded."""
    row = b"\0" * (1 + (width + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def tiff_bomb(width: int, height: int) -> bytes:
    """An uncompressed 1-bit TIFF header claiming `width`×`height`, with next to no data."""
    entries = [
        (256, 4, width),  # ImageWidth, LONG
        (257, 4, height),  # ImageLength
        (258, 3, 1),  # BitsPerSample
        (259, 3, 1),  # Compression: none
        (262, 3, 1),  # Photometric: BlackIsZero
        (273, 4, 8 + 2 + 12 * 8 + 4),  # StripOffsets: right after the IFD
        (278, 4, height),  # RowsPerStrip
        (279, 4, (width + 7) // 8 * height),  # StripByteCounts: claims it all
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, 1, value)
        if kind == 4
        else struct.pack("<HHIHH", tag, kind, 1, value, 0)
        for tag, kind, value in entries
    )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\0" * 64


def photo(width: int = 240, height: int = 180, fmt: str = "JPEG", **kw: object) -> bytes:
    """A small real picture: a gradient with noise."""
    rng = np.random.default_rng(width * 31 + height)
    a = np.zeros((height, width, 3), np.float32)
    a[..., 0] = np.linspace(40, 220, width)[None, :]
    a[..., 1] = np.linspace(60, 200, height)[:, None]
    a[..., 2] = 110
    a += rng.normal(0, 12, a.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg_header_only(width: int, height: int) -> bytes:
    """A JPEG whose header says `width`×`height` and whose scan ends at once (then EOI): what
    libjpeg decodes as a grey picture with nothing but a warning."""
    whole = photo(64, 48)
    sos = whole.index(b"\xff\xda")
    length = struct.unpack(">H", whole[sos + 2 : sos + 4])[0]
    head = whole[: sos + 2 + length] + whole[sos + 2 + length : sos + 2 + length + 16]
    sof = head.index(b"\xff\xc0")
    head = head[: sof + 5] + struct.pack(">HH", height, width) + head[sof + 9 :]
    return head + b"\xff\xd9"


def jpeg_cut_with_eoi() -> bytes:
    """A real JPEG cut in half with an end marker appended: a truncated upload 'repaired'."""
    whole = photo(640, 480, quality=90)
    return whole[: len(whole) // 2] + b"\xff\xd9"


def animated(fmt: str, frames: int, size: tuple[int, int] = (32, 32)) -> bytes:
    """An animation (GIF, WebP, PNG) of `frames` tiny frames."""
    ims = [Image.new("RGB", size, (i % 256, 80, 160)) for i in range(frames)]
    buf = io.BytesIO()
    ims[0].save(buf, fmt, save_all=True, append_images=ims[1:], duration=40, loop=0)
    return buf.getvalue()


def tiff_pages(pages: int, *, previews: bool = False) -> bytes:
    """A TIFF of `pages` pages; with `previews`, every page after the first is a smaller
    version of it (NewSubfileType = 1), as some scanners write."""
    from PIL import TiffImagePlugin

    first = Image.open(io.BytesIO(photo(32, 24, "PNG")))
    out = io.BytesIO()
    with TiffImagePlugin.AppendingTiffWriter(out, new=True) as writer:
        for index in range(pages):
            page = first.resize((16, 12)) if previews and index else first
            page.save(writer, "TIFF", tiffinfo={254: 1 if previews and index else 0})
            writer.newFrame()
    return out.getvalue()


def garbage_icc(size: int = 5 << 20) -> bytes:
    """A JPEG whose embedded 'ICC profile' (APP2 segments) is `size` bytes of junk."""
    return photo(64, 48, icc_profile=(b"not an ICC profile " * (size // 19 + 1))[:size])


def valid_icc_jpeg() -> bytes:
    """A JPEG with a real sRGB profile (must keep it)."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return photo(64, 48, icc_profile=srgb)


def pictures(max_pixels: int) -> list[Picture]:
    """The picture corpus, for a service whose MAX_PIXELS is `max_pixels`."""
    side = int((max_pixels * 1.13) ** 0.5) + 1  # just over the limit, like the 169-MP bomb
    return [
        Picture("bomb.png", png_bomb(side, side), refused=True, reason="MAX_PIXELS"),
        Picture("header-9000.jpg", jpeg_header_only(9000, 9000), refused=True, reason="9000"),
        Picture("cut-with-eoi.jpg", jpeg_cut_with_eoi(), refused=True, reason="truncated"),
        Picture("cut.jpg", photo(640, 480)[:4000], refused=True, reason="truncated"),
        Picture("frames.gif", animated("GIF", 2000, (16, 16)), refused=True, reason="animated"),
        Picture("frames.webp", animated("WEBP", 12), refused=True, reason="animated"),
        Picture("pages.tif", tiff_pages(40), refused=True, reason="pages"),
        Picture("strip.png", photo(1, 4000, "PNG"), refused=True, reason="1×4000"),
        Picture("speck.png", photo(8, 8, "PNG"), refused=True, reason="16 pixels"),
        Picture("text.jpg", b"this is not a picture at all\n" * 40, refused=True, reason="not"),
        Picture("empty.jpg", b"", refused=True, reason="empty"),
        Picture("garbage-icc.jpg", garbage_icc(), refused=False),
        Picture("with-previews.tif", tiff_pages(3, previews=True), refused=False),
        Picture("narrow.png", photo(16, 1600, "PNG"), refused=False),
        Picture("srgb.jpg", valid_icc_jpeg(), refused=False),
        Picture("ordinary.jpg", photo(), refused=False),
    ]


# -- names -------------------------------------------------------------------------------
# Names a user's sync client (or an attacker with write access) can leave in a folder.
ODD_NAMES = [
    "odd\\name",
    "<x>\\.jpg",
    "tab\there.jpg",
    "new\nline.jpg",
    "x" * 300 + ".jpg",
]
# hrefs a WebDAV server may answer with; none may fail a listing.
ODD_HREF_SEGMENTS = ["..", "a%2Fb.jpg", "back%5Cslash.jpg", "nul%00.jpg", "%2E%2E"]


# -- bodies ------------------------------------------------------------------------------
def deep_json(depth: int = 100_000) -> bytes:
    """[[[[…]]]] `depth` levels deep."""
    return b"[" * depth + b"]" * depth


NOT_UTF8 = b'{"path": "/Family/to-restore/\xff\xfe.jpg"}'


# -- WebDAV answers ------------------------------------------------------------------------
def multistatus(hrefs: list[str], root: str = "/dav/") -> bytes:
    """A Depth-1 answer listing the root and `hrefs` below it."""
    items = [root, *(root + h for h in hrefs)]
    body = "".join(
        f"<d:response><d:href>{h}</d:href><d:propstat><d:prop><d:resourcetype>"
        f"{'<d:collection/>' if h.endswith('/') else ''}</d:resourcetype>"
        f'<d:getetag>"e{i}"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status>'
        "</d:propstat></d:response>"
        for i, h in enumerate(items)
    )
    return f'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">{body}</d:multistatus>'.encode()


def oversized_multistatus_size() -> int:
    """A hostile answer's size: past the limit, so the client must stop reading it."""
    return MAX_XML_BYTES + (4 << 20)
