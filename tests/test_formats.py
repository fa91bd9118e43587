"""The one table of output formats: names, extensions and what can be written agree."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from service import formats
from service.formats import FORMATS, for_name, result_name, writable
from service.pipeline import imageio
from service.pipeline.imageio import Decoded


def test_result_name_follows_the_chains_output_format() -> None:
    assert result_name("scan 1.tif", None) == "scan 1.tif"
    assert result_name("scan 1.tif", "JPEG") == "scan 1.jpg"
    assert result_name("noext", "PNG") == "noext.png"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("old.gif", "old.png"),
        ("scan.BMP", "scan.png"),
        ("print.ppm", "print.png"),
        ("x.jpeg", "x.jpeg"),
        ("X.JPG", "X.JPG"),
        ("x.tiff", "x.tiff"),
        ("x.webp", "x.webp"),
        ("scan.001", "scan.001"),  # no format in the name: it is kept, and the scan decides
        ("noext", "noext"),
    ],
)
def test_a_result_is_named_for_the_format_it_is_written_in(name: str, expected: str) -> None:
    assert result_name(name, None) == expected


def test_the_format_a_name_asks_for() -> None:
    assert for_name("x.jpeg") == "JPEG"
    assert for_name("x.JFIF") == "JPEG"
    assert for_name("x.tiff") == "TIFF"
    assert for_name("x.png") == "PNG"
    assert for_name("x.gif") is None
    assert for_name("scan.001") is None
    assert for_name("noext") is None


def test_what_cannot_be_written_becomes_png() -> None:
    assert writable("jpeg") == "JPEG"
    assert writable("GIF") == "PNG"
    assert writable("MP4") == "PNG"  # a clip is the animate step's to write, never imageio's
    assert writable("BMP") == "PNG"
    assert writable(None) == "PNG"


@pytest.mark.parametrize("fmt", formats.choices("image"))
def test_every_image_format_a_chain_may_name_is_really_written(fmt: str) -> None:
    image = Image.new("RGB", (32, 24), (120, 80, 40))
    decoded = Decoded(image=image, format="JPEG", original_mode="RGB")
    data = imageio.encode(image, decoded, fmt=fmt)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == fmt
    assert for_name("result" + FORMATS[fmt].extension) == fmt


def test_gif_is_listed_but_not_offered() -> None:
    assert "GIF" in FORMATS
    assert not FORMATS["GIF"].encodable
    assert "GIF" not in formats.choices("image")
    assert formats.choices("video") == ["MP4"]
