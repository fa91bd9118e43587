"""imageio: every input we promise decodes, metadata survives, and bad files fail with a reason."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from service.errors import InvalidImage
from service.pipeline.imageio import date_taken, decode, encode, read_provenance

LIMIT = 150_000_000
DATE = "1962:07:14 10:20:30"


def _gradient(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    w, h = size
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w)[None, :]
    a[..., 1] = np.linspace(0, 255, h)[:, None]
    a[..., 2] = 128
    return Image.fromarray(a).convert(mode)


def _save(tmp_path: Path, im: Image.Image, name: str, **kw: object) -> Path:
    path = tmp_path / name
    im.save(path, **kw)
    return path


def _exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "ScanCo"
    if orientation:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = DATE
    return exif


def test_cmyk_jpeg_without_icc_decodes_to_rgb_and_reencodes(tmp_path: Path) -> None:
    path = _save(tmp_path, _gradient("CMYK"), "cmyk.jpg", quality=95)
    d = decode(path, max_pixels=LIMIT)
    assert d.image.mode == "RGB"
    assert d.format == "JPEG"
    assert d.original_mode == "CMYK"
    assert Image.open(io.BytesIO(encode(d.image, d))).format == "JPEG"


def test_cmyk_jpeg_with_icc_is_converted_through_its_profile(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = _save(tmp_path, _gradient("CMYK"), "cmyk-icc.jpg", icc_profile=icc)
    d = decode(path, max_pixels=LIMIT)
    assert d.image.mode == "RGB"
    assert Image.open(io.BytesIO(encode(d.image, d))).mode == "RGB"


@pytest.mark.parametrize(("fmt", "name"), [("TIFF", "grey16.tif"), ("PNG", "grey16.png")])
def test_sixteen_bit_grey_decodes_and_keeps_its_depth(tmp_path: Path, fmt: str, name: str) -> None:
    a = (np.linspace(0, 65535, 64 * 32).reshape(32, 64)).astype(np.uint16)
    path = _save(tmp_path, Image.fromarray(a), name)
    d = decode(path, max_pixels=LIMIT)
    assert d.image.mode == "L"
    assert abs(int(np.asarray(d.image)[-1, -1]) - 255) <= 1
    out = Image.open(io.BytesIO(encode(d.image, d)))
    assert out.format == fmt
    assert out.mode.startswith("I")


def test_png_with_alpha_keeps_alpha(tmp_path: Path) -> None:
    im = _gradient("RGBA")
    im.putalpha(Image.linear_gradient("L").resize(im.size))
    d = decode(_save(tmp_path, im, "alpha.png"), max_pixels=LIMIT)
    assert d.image.mode == "RGBA"
    out = Image.open(io.BytesIO(encode(d.image, d)))
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(im.getchannel("A")))


def test_palette_image_decodes_to_rgb_and_reencodes(tmp_path: Path) -> None:
    d = decode(_save(tmp_path, _gradient().convert("P"), "pal.png"), max_pixels=LIMIT)
    assert d.image.mode == "RGB"
    assert Image.open(io.BytesIO(encode(d.image, d))).format == "PNG"


def test_date_taken_survives_and_orientation_is_applied_and_removed(tmp_path: Path) -> None:
    im = _gradient(size=(60, 20))
    path = _save(tmp_path, im, "rot.jpg", exif=_exif(orientation=6).tobytes())
    d = decode(path, max_pixels=LIMIT)
    assert d.image.size == (20, 60)  # orientation 6: stored sideways, shown upright
    out = Image.open(io.BytesIO(encode(d.image, d)))
    exif = out.getexif()
    assert 0x0112 not in exif
    assert exif.get_ifd(0x8769)[0x9003] == DATE
    assert exif[0x010F] == "ScanCo"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_icc_profile_and_provenance_survive_every_format(tmp_path: Path, fmt: str) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = _save(tmp_path, _gradient(), "src.jpg", icc_profile=icc, exif=_exif().tobytes())
    d = decode(path, max_pixels=LIMIT)
    prov = {"chain": "classic", "steps": [f"op-{i}" for i in range(300)]}
    data = encode(d.image, d, fmt=fmt, provenance=prov)
    out = Image.open(io.BytesIO(data))
    assert out.format == fmt
    assert out.info.get("icc_profile") == icc
    assert read_provenance(data) == prov


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _assert_tiff_keeps_date_and_icc(data: bytes, mode_prefix: str) -> Image.Image:
    out = Image.open(io.BytesIO(data))
    assert out.format == "TIFF"
    assert out.mode.startswith(mode_prefix)
    exif = out.getexif()
    assert exif[0x9003] == DATE  # DateTimeOriginal, in IFD0: libtiff cannot write the Exif IFD
    assert out.tag_v2[36867] == DATE
    assert exif[0x0132] == DATE  # DateTime as well, for readers that only look there
    assert exif[0x010F] == "ScanCo"
    assert date_taken(out) == DATE
    assert out.info.get("icc_profile") == _icc()
    return out


def test_rgb_tiff_result_keeps_the_date_taken_and_icc(tmp_path: Path) -> None:
    path = _save(tmp_path, _gradient(), "src.jpg", icc_profile=_icc(), exif=_exif().tobytes())
    d = decode(path, max_pixels=LIMIT)
    data = encode(d.image, d, fmt="TIFF", provenance={"chain": "classic"})
    _assert_tiff_keeps_date_and_icc(data, "RGB")
    assert read_provenance(data) == {"chain": "classic"}


def test_sixteen_bit_grey_tiff_keeps_the_date_taken_and_icc(tmp_path: Path) -> None:
    a = (np.linspace(0, 65535, 64 * 32).reshape(32, 64)).astype(np.uint16)
    # Pillow's own (uncompressed) TIFF writer can write the Exif IFD: a scanner's TIFF.
    path = _save(
        tmp_path, Image.fromarray(a), "grey16.tif", exif=_exif().tobytes(), icc_profile=_icc()
    )
    d = decode(path, max_pixels=LIMIT)
    assert d.original_mode.startswith("I;16")
    _assert_tiff_keeps_date_and_icc(encode(d.image, d), "I;16")


def test_date_kept_in_a_tiff_goes_back_to_the_exif_ifd_in_other_formats(tmp_path: Path) -> None:
    path = _save(tmp_path, _gradient(), "src.jpg", exif=_exif().tobytes())
    d = decode(path, max_pixels=LIMIT)
    tif = tmp_path / "restored.tif"
    tif.write_bytes(encode(d.image, d, fmt="TIFF"))
    again = decode(tif, max_pixels=LIMIT)
    out = Image.open(io.BytesIO(encode(again.image, again, fmt="JPEG")))
    assert out.getexif().get_ifd(0x8769)[0x9003] == DATE
    assert 0x9003 not in out.getexif()
    assert date_taken(out) == DATE


def test_read_provenance_of_garbage_is_none() -> None:
    assert read_provenance(b"not an image") is None


def test_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InvalidImage, match="empty"):
        decode(tmp_path / "empty.jpg", max_pixels=LIMIT)


def test_text_file_named_jpg_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("shopping list: milk, film, fixer\n")
    with pytest.raises(InvalidImage, match="not an image"):
        decode(tmp_path / "notes.jpg", max_pixels=LIMIT)


def test_truncated_jpeg_is_refused_even_if_someone_turned_truncation_on(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))
    data = io.BytesIO()
    im.save(data, "JPEG", quality=90)
    (tmp_path / "cut.jpg").write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with pytest.raises(InvalidImage, match="truncated"):
            decode(tmp_path / "cut.jpg", max_pixels=LIMIT)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_png_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 0, 0, 0, 0)  # 1.6 gigapixels, 8-bit grey
    idat = zlib.compress(b"\x00" * 4001)  # a few bytes: the pixels would never be allocated
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
    path = tmp_path / "bomb.png"
    path.write_bytes(data + _chunk(b"IEND", b""))
    assert path.stat().st_size < 1000
    with pytest.raises(InvalidImage, match="decompression bomb"):
        decode(path, max_pixels=LIMIT)
