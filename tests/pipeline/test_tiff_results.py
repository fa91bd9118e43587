"""TIFF results after a size change: a scan cropped or straightened by the chain is written in
its own format, depth and compression, with its descriptive tags and none of the old file's
layout; deep and unusual TIFFs (CMYK, LAB, 32-bit) come back valid; what cannot be written is
a failure with a reason."""

from __future__ import annotations

import asyncio
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from service.config.catalog import Chain, Step
from service.config.settings import Settings
from service.errors import EncodeError
from service.pipeline import imageio
from service.pipeline.metadata import DESCRIPTIVE
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor

DATE = "1962:05:20 09:15:00"
ROWS_PER_STRIP = 16
STRUCTURAL = {
    0x0100: "ImageWidth",
    0x0101: "ImageLength",
    0x0102: "BitsPerSample",
    0x0103: "Compression",
    0x0106: "PhotometricInterpretation",
    0x0111: "StripOffsets",
    0x0115: "SamplesPerPixel",
    0x0116: "RowsPerStrip",
    0x0117: "StripByteCounts",
    0x011C: "PlanarConfiguration",
    0x013D: "Predictor",
    0x0144: "TileOffsets",
    0x0145: "TileByteCounts",
}
BED = 246


def _chain(*ops: str) -> Chain:
    return Chain(name="t", title="t", description="", steps=tuple(Step("local", o) for o in ops))


def _print(mode: str, tilt: float) -> np.ndarray:
    """A print on a flat bed (16-bit values when `mode` is I;16), tilted by `tilt` degrees."""
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([60 + 60 * np.sin(x / 23), 90 + 50 * np.cos(y / 17), 80 + x / 8], -1)
    print_ = Image.fromarray(rgb.astype(np.uint8)).convert("RGBA")
    turned = print_.rotate(tilt, Image.Resampling.BICUBIC, expand=True)
    scan = Image.new("RGB", (turned.width + 60, turned.height + 44), (BED, BED, BED))
    scan.paste(turned, (28, 20), turned)
    a = np.asarray(scan if mode.startswith("RGB") else scan.convert("L"))
    return a.astype(np.uint16) * 257 if "16" in mode else a


def _tiff(path: Path, mode: str, compression: str, tilt: float = 0.0) -> tuple[int, int]:
    """Write the scan as a many-strip TIFF with a date, a scanner, a resolution and an ICC."""
    a = _print(mode, tilt)
    im = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0132] = DATE
    exif[0x9003] = DATE
    exif[0x010F] = "ScanCo"
    row_bytes = a.shape[1] * (3 if a.ndim == 3 else 1) * a.dtype.itemsize
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im.save(
        path,
        compression=compression,
        strip_size=ROWS_PER_STRIP * row_bytes,
        dpi=(600, 600),
        exif=exif.tobytes(),
        icc_profile=icc,
    )
    with Image.open(path) as check:
        assert len(check.tag_v2[273]) > 10  # many strips
    return im.size


def _restore(tmp_path: Path, path: Path, chain: Chain, fmt: str | None = None) -> bytes:
    runner = ChainRunner({"local": LocalExecutor()})
    settings = Settings(data_dir=tmp_path / "data")
    return asyncio.run(restore_image(path, chain, runner, settings, fmt=fmt)).data


MODES = {"RGB": ("RGB", 8), "L": ("L", 8), "I;16": ("I;16", 16)}


@pytest.mark.parametrize("compression", ["tiff_lzw", "tiff_adobe_deflate"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("ops", "tilt"), [(("remove_border",), 0.0), (("deskew",), 3.0)])
def test_a_cropped_or_straightened_tiff_comes_back_as_a_tiff_like_its_scan(
    tmp_path: Path, compression: str, mode: str, ops: tuple[str, ...], tilt: float
) -> None:
    src = tmp_path / "scan.tif"
    size = _tiff(src, mode, compression, tilt)
    data = _restore(tmp_path, src, _chain(*ops))
    out = Image.open(io.BytesIO(data))
    out.load()
    assert out.format == "TIFF"
    assert out.mode == MODES[mode][0]
    assert out.size[0] < size[0] - 20  # the bed is gone
    assert out.size[1] < size[1] - 20
    assert out.info["compression"] == compression
    assert out.tag_v2[0x0100] == out.size[0]  # its own layout, written new
    assert out.tag_v2[0x0101] == out.size[1]
    exif = out.getexif()
    assert exif[0x0132] == DATE
    assert exif[0x9003] == DATE
    assert exif[0x010F] == "ScanCo"
    assert out.info["dpi"] == pytest.approx((600, 600))
    assert out.info.get("icc_profile")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_tiff_scan_gives_no_layout_tag_to_the_exif_of_another_format(
    tmp_path: Path, fmt: str
) -> None:
    src = tmp_path / "scan.tif"
    _tiff(src, "RGB", "tiff_lzw")
    out = Image.open(io.BytesIO(_restore(tmp_path, src, _chain("remove_border"), fmt=fmt)))
    exif = out.getexif()
    assert not set(exif) & set(STRUCTURAL), {STRUCTURAL[t] for t in set(exif) & set(STRUCTURAL)}
    assert set(exif) <= DESCRIPTIVE | {0x8769}
    assert exif.get_ifd(0x8769)[0x9003] == DATE


def test_decoded_exif_of_a_tiff_holds_only_descriptive_tags(tmp_path: Path) -> None:
    src = tmp_path / "scan.tif"
    _tiff(src, "L", "tiff_adobe_deflate")
    decoded = imageio.decode(src, max_pixels=10**8)
    assert decoded.exif is not None
    assert set(decoded.exif) <= DESCRIPTIVE


def _unusual(path: Path, kind: str) -> None:
    y, x = np.mgrid[0:120, 0:160]
    ramp = (x + y) / (160 + 120)  # 0…1, never all dark
    if kind == "CMYK":
        c = (ramp * 200).astype(np.uint8)
        Image.fromarray(np.stack([c, c // 2, 255 - c, c // 4], -1), "CMYK").save(
            path, compression="tiff_lzw"
        )
    elif kind == "LAB":
        rgb = Image.fromarray(np.stack([(ramp * 255).astype(np.uint8)] * 3, -1))
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        ImageCms.applyTransform(rgb, ImageCms.buildTransform(srgb, lab, "RGB", "LAB")).save(path)
    elif kind == "float32":
        Image.fromarray(ramp.astype(np.float32)).save(path)
    elif kind == "int32":
        Image.fromarray((ramp * 65535).astype(np.int32)).save(path)
    elif kind == "uint32":
        a = (ramp * (2**32 - 1)).astype(np.uint32)
        header = {256: a.shape[1], 257: a.shape[0], 258: 32, 259: 1, 262: 1, 339: 1}
        _write_uncompressed(path, a, header)


def _write_uncompressed(path: Path, a: np.ndarray, tags: dict[int, int]) -> None:
    """A minimal little-endian one-strip TIFF (Pillow cannot write unsigned 32-bit samples)."""
    data = a.astype("<u4").tobytes()
    entries = {**tags, 273: 8, 277: 1, 278: a.shape[0], 279: len(data)}
    ifd_offset = 8 + len(data)
    body = b"".join(
        struct.pack("<HHII", tag, 4, 1, value) for tag, value in sorted(entries.items())
    )
    path.write_bytes(
        b"II*\x00"
        + struct.pack("<I", ifd_offset)
        + data
        + struct.pack("<H", len(entries))
        + body
        + struct.pack("<I", 0)
    )


@pytest.mark.parametrize("kind", ["CMYK", "LAB", "float32", "int32", "uint32"])
def test_an_unusual_tiff_gives_a_valid_result_that_is_not_black(tmp_path: Path, kind: str) -> None:
    src = tmp_path / "odd.tif"
    _unusual(src, kind)
    data = _restore(tmp_path, src, _chain("auto_levels"))
    out = Image.open(io.BytesIO(data))
    out.load()
    assert out.format == "TIFF"
    assert out.size == (160, 120)
    if out.mode == "I;16":  # deep grey comes back deep
        grey = np.asarray(out, np.float32) / 257
    else:
        grey = np.asarray(out.convert("RGB").convert("L"), np.float32)
    assert grey.max() - grey.min() > 100  # not black, not one flat tone
    y, x = np.mgrid[0:120, 0:160]
    # The ramp survived, scaled: clipped to white past 255 it would not follow it.
    assert abs(np.corrcoef(grey.ravel(), (x + y).ravel())[0, 1]) > 0.95


def test_an_encoder_refusal_is_an_encode_error_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "scan.tif"
    _tiff(src, "RGB", "tiff_lzw")
    decoded = imageio.decode(src, max_pixels=10**8)

    def refuse(*_: object, **__: object) -> None:
        raise OSError("encoder error -8 when writing image file")

    monkeypatch.setattr(Image.Image, "save", refuse)
    with pytest.raises(EncodeError, match="cannot be written as TIFF"):
        imageio.encode(decoded.image, decoded)


def test_a_sixteen_bit_colour_tiff_is_cropped_into_a_valid_eight_bit_colour_tiff(
    tmp_path: Path,
) -> None:
    # Pillow holds colour in 8 bits per channel: the result is 8-bit RGB, in the scan's
    # compression, never a failure.
    tifffile = pytest.importorskip("tifffile")
    src = tmp_path / "deep.tif"
    a = _print("RGB;16", 0.0)
    tifffile.imwrite(src, a, compression="zlib", rowsperstrip=ROWS_PER_STRIP, photometric="rgb")
    out = Image.open(io.BytesIO(_restore(tmp_path, src, _chain("remove_border"))))
    out.load()
    assert out.format == "TIFF"
    assert out.mode == "RGB"
    assert out.info["compression"] == "tiff_adobe_deflate"
    assert out.width < a.shape[1] - 20
    grey = np.asarray(out.convert("L"), np.float32)
    assert grey.max() - grey.min() > 50
