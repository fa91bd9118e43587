"""`photo-restore restore`, called in-process: one models.toml parse for the whole run."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PIL import Image

from service.commands.local import restore
from service.config import catalog as catalog_module
from service.config.settings import Settings
from tests.images import jpeg_with_exif


def test_restoring_files_parses_models_toml_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[Path] = []
    real = catalog_module.parse_catalog

    def counting(text: str, path: Path, **kw: object) -> catalog_module.Catalog:
        parses.append(path)
        return real(text, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog_module, "parse_catalog", counting)
    files = []
    for name in ("a.jpg", "b.jpg"):
        jpeg_with_exif(tmp_path / name, size=(64, 48))
        files.append(tmp_path / name)
    args = argparse.Namespace(files=files, chain="classic", output=tmp_path / "out")
    assert restore(Settings(data_dir=tmp_path / "data"), args) == 0
    assert len(parses) == 1
    for name in ("a.jpg", "b.jpg"):
        with Image.open(tmp_path / "out" / name) as im:
            assert im.size == (64, 48)
