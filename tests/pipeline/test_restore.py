"""decode → chain → encode: the result is written in the format asked for, EXIF kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from service.config.catalog import Chain, Step
from service.config.settings import Settings
from service.pipeline.imageio import date_taken
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor
from tests.images import DATE_TAKEN, jpeg_with_exif

LEVELS = (Step("local", "auto_levels"),)


def chain(output_format: str | None = None) -> Chain:
    return Chain("levels", "Levels", "", LEVELS, output_format=output_format)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP", "JPEG"])
async def test_the_chains_output_format_is_what_gets_written(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "scan.jpg"
    jpeg_with_exif(src, size=(120, 90))
    runner = ChainRunner({"local": LocalExecutor()})
    restored = await restore_image(src, chain(fmt), runner, Settings(data_dir=tmp_path))
    with Image.open(io.BytesIO(restored.data)) as im:
        assert im.format == fmt
        assert date_taken(im) == DATE_TAKEN


async def test_without_a_format_the_scans_own_is_kept(tmp_path: Path) -> None:
    src = tmp_path / "scan.jpg"
    jpeg_with_exif(src, size=(120, 90))
    runner = ChainRunner({"local": LocalExecutor()})
    restored = await restore_image(src, chain(), runner, Settings(data_dir=tmp_path))
    with Image.open(io.BytesIO(restored.data)) as im:
        assert im.format == "JPEG"


async def test_the_format_the_results_name_asks_for_wins(tmp_path: Path) -> None:
    src = tmp_path / "scan.jpg"
    jpeg_with_exif(src, size=(120, 90))
    runner = ChainRunner({"local": LocalExecutor()})
    restored = await restore_image(src, chain(), runner, Settings(data_dir=tmp_path), fmt="PNG")
    with Image.open(io.BytesIO(restored.data)) as im:
        assert im.format == "PNG"
