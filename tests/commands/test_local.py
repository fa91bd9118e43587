"""`photo-restore restore`, called in-process: one models.toml parse for the whole run, and
`--chain animate` writing the photo and its clip against the fake router."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PIL import Image

from service.commands import local
from service.commands.local import restore
from service.config.settings import Settings
from service.errors import ConfigError
from service.inference import PollPolicy
from service.pipeline.clip import probe_clip
from tests.fakerouter import FakeRouter
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


def _settings(tmp_path: Path, router: FakeRouter) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        state_dir=tmp_path / "state",
        hf_token="hf_cli_test",
        hf_router_url=router.url,  # type: ignore[arg-type]
        hf_endpoint=router.url,
    )


def test_animate_writes_the_photo_and_the_clip_and_says_the_cost_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.inference.client.VIDEO_POLL", PollPolicy(interval=0.02))
    jpeg_with_exif(tmp_path / "oma.jpg", size=(320, 240))
    args = argparse.Namespace(
        files=[tmp_path / "oma.jpg"], chain="animate", output=tmp_path / "out"
    )
    with FakeRouter() as router:
        assert restore(_settings(tmp_path, router), args) == 0
        assert router.submits("fal-ai") == 2  # the restoration, then the clip
    err = capsys.readouterr().err
    assert "chain animate: ≈ $0.23 per photo" in err
    assert "wan22-i2v ≈ $0.20 ($0.04/s × 5 s)" in err
    assert err.index("≈ $0.23 per photo") < err.index("oma.jpg →")
    assert "out/oma.jpg and oma.mp4" in err
    with Image.open(tmp_path / "out" / "oma.jpg") as im:
        assert im.size == (320, 240)
    assert probe_clip((tmp_path / "out" / "oma.mp4").read_bytes()).frames == 81
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["oma.jpg", "oma.mp4"]


def test_a_refused_clip_still_writes_the_photo_and_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.inference.client.VIDEO_POLL", PollPolicy(interval=0.02))
    jpeg_with_exif(tmp_path / "oma.jpg", size=(320, 240))
    args = argparse.Namespace(
        files=[tmp_path / "oma.jpg"], chain="animate", output=tmp_path / "out"
    )
    with FakeRouter(clip="html") as router:
        assert restore(_settings(tmp_path, router), args) == 1
    err = capsys.readouterr().err
    assert "no clip of" in err
    assert "an HTML page" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["oma.jpg"]


def test_animate_without_a_token_is_refused_before_anything_runs(tmp_path: Path) -> None:
    jpeg_with_exif(tmp_path / "oma.jpg", size=(64, 48))
    args = argparse.Namespace(
        files=[tmp_path / "oma.jpg"], chain="animate", output=tmp_path / "out"
    )
    with pytest.raises(ConfigError, match="no clip can be made offline"):
        restore(Settings(data_dir=tmp_path / "data"), args)
    assert not (tmp_path / "out").exists()


def test_a_result_that_cannot_be_encoded_is_a_cross_line_and_the_others_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    jpeg_with_exif(tmp_path / "a.jpg", size=(64, 48))
    Image.open(tmp_path / "a.jpg").save(tmp_path / "b.tif", compression="tiff_lzw")
    jpeg_with_exif(tmp_path / "c.jpg", size=(64, 48))
    save = Image.Image.save

    def refuse_tiff(self: Image.Image, fp: object, format: str | None = None, **kw: object) -> None:
        if format == "TIFF":
            raise OSError("encoder error -8 when writing image file")
        save(self, fp, format, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "save", refuse_tiff)
    files = [tmp_path / n for n in ("a.jpg", "b.tif", "c.jpg")]
    args = argparse.Namespace(files=files, chain="classic", output=tmp_path / "out")
    assert restore(Settings(data_dir=tmp_path / "data"), args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"✗ {tmp_path / 'b.tif'}: the result cannot be written as TIFF (encoder error -8" in err
    assert err.count("✓") == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "c.jpg"]


def test_an_unexpected_error_in_one_file_is_a_cross_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    jpeg_with_exif(tmp_path / "a.jpg", size=(64, 48))
    jpeg_with_exif(tmp_path / "b.jpg", size=(64, 48))
    real = local.restore_image
    calls = []

    async def flaky(path: Path, *a: object, **kw: object) -> object:
        calls.append(path)
        if path.name == "a.jpg":
            raise RuntimeError("a bug of ours")
        return await real(path, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(local, "restore_image", flaky)
    files = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    args = argparse.Namespace(files=files, chain="classic", output=tmp_path / "out")
    assert restore(Settings(data_dir=tmp_path / "data"), args) == 1
    err = capsys.readouterr().err
    assert "✗" in err
    assert "a.jpg: unexpected error (RuntimeError: a bug of ours)" in err
    assert "Traceback" not in err
    assert (tmp_path / "out" / "b.jpg").exists()
