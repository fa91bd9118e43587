"""The decode guard (issue 13, items 9, 16, 17): what the worker refuses before it decodes,
and what it takes that it used to refuse."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from service.errors import InvalidImage
from service.pipeline.imageio import decode
from tests.hostile.corpus import (
    animated,
    garbage_icc,
    jpeg_cut_with_eoi,
    jpeg_header_only,
    photo,
    png_bomb,
    tiff_pages,
)

LIMIT = 150_000_000


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_jpeg_whose_data_ends_early_is_refused_as_truncated_not_restored_grey(
    tmp_path: Path,
) -> None:
    for name, data in (
        ("header.jpg", jpeg_header_only(9000, 9000)),
        ("cut.jpg", jpeg_cut_with_eoi()),
    ):
        with pytest.raises(InvalidImage, match="truncated"):
            decode(write(tmp_path, name, data), max_pixels=LIMIT)


def test_a_jpeg_with_stray_bytes_after_its_data_still_decodes(tmp_path: Path) -> None:
    data = photo(320, 240)
    padded = data[:-2] + b"\x00" * 7 + data[-2:]  # junk before EOI: a common camera quirk
    assert decode(write(tmp_path, "stray.jpg", padded), max_pixels=LIMIT).size == (320, 240)


def test_pillows_own_bomb_limit_never_refuses_below_max_pixels(tmp_path: Path) -> None:
    # 90 MP: over Pillow's default 89.5 MP warning, under MAX_PIXELS; the test run turns
    # warnings into errors, as the old process-wide filter did.
    path = write(tmp_path, "big.png", png_bomb(9500, 9500))
    decoded = decode(path, max_pixels=LIMIT)
    assert decoded.size == (9500, 9500)
    assert Image.MAX_IMAGE_PIXELS is not None
    assert Image.MAX_IMAGE_PIXELS >= LIMIT


def test_decoding_in_threads_needs_no_process_wide_warnings_filter(tmp_path: Path) -> None:
    paths = [write(tmp_path, f"p{i}.jpg", photo(200 + i, 150)) for i in range(6)]
    errors: list[BaseException] = []

    def work(path: Path) -> None:
        try:
            for _ in range(3):
                decode(path, max_pixels=LIMIT)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("frames.gif", animated("GIF", 2000, (16, 16)), "animated GIF"),
        ("frames.webp", animated("WEBP", 12), "animated WEBP"),
        ("frames.png", animated("PNG", 5), "animated PNG"),
        ("pages.tif", tiff_pages(50), "several pages"),
    ],
)
def test_an_animation_or_a_multi_page_file_is_refused_not_reduced_to_one_frame(
    tmp_path: Path, name: str, data: bytes, words: str
) -> None:
    with pytest.raises(InvalidImage, match=words):
        decode(write(tmp_path, name, data), max_pixels=LIMIT)


def test_a_tiff_whose_other_pages_are_previews_is_restored(tmp_path: Path) -> None:
    decoded = decode(
        write(tmp_path, "previews.tif", tiff_pages(3, previews=True)), max_pixels=LIMIT
    )
    assert decoded.size == (32, 24)


@pytest.mark.parametrize(("w", "h"), [(1, 100_000), (8, 8), (20, 2100)])
def test_a_sliver_or_a_speck_is_refused_with_its_size(tmp_path: Path, w: int, h: int) -> None:
    path = write(tmp_path, "odd.png", photo(w, h, "PNG"))
    with pytest.raises(InvalidImage, match=f"{w}×{h}"):
        decode(path, max_pixels=LIMIT)


def test_a_garbage_icc_profile_is_dropped_and_the_picture_kept(tmp_path: Path) -> None:
    decoded = decode(write(tmp_path, "icc.jpg", garbage_icc(15 << 20)), max_pixels=LIMIT)
    assert decoded.icc_profile is None
    assert decoded.size == (64, 48)
