"""`photo-restore restore`, called in-process: one models.toml parse for the whole run."""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from service.commands.local import restore
from service.config.settings import Settings
from tests.images import jpeg_with_exif


def test_restoring_files_parses_models_toml_once(
    tmp_path: Path, catalog_parses: list[Path]
) -> None:
    files = []
    for name in ("a.jpg", "b.jpg"):
        jpeg_with_exif(tmp_path / name, size=(64, 48))
        files.append(tmp_path / name)
    args = argparse.Namespace(files=files, chain="classic", output=tmp_path / "out")
    assert restore(Settings(data_dir=tmp_path / "data"), args) == 0
    assert len(catalog_parses) == 1
    for name in ("a.jpg", "b.jpg"):
        with Image.open(tmp_path / "out" / name) as im:
            assert im.size == (64, 48)
