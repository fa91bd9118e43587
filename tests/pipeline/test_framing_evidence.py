"""Border removal and deskew act only on evidence: the print's own cut edge against a flat
scanner bed. Lines in the picture (a horizon, door frames, scratches, a crack) and a torn corner
are never a reason to turn or crop a photo; a tilted print on a bed is levelled and cropped."""

from __future__ import annotations

import numpy as np
import pytest
from framing_scenes import (
    DARK_BED,
    LIGHT_BED,
    frame_angle,
    framed_print,
    lined,
    on_bed,
    torn,
    tower,
)
from PIL import Image
from pipeline_photos import photo

from service.pipeline import registry, transforms
from service.pipeline.ops import framing
from service.pipeline.registry import OpContext

CTX = OpContext()
PICTURES = ("astronaut", "coffee", "chelsea", "camera", "rocket", "brick")


def frame(image: Image.Image) -> Image.Image:
    """remove_border then deskew, as the classic chain runs them."""
    out = registry.get("remove_border").func(image, CTX)
    return registry.get("deskew").func(out, CTX)


@pytest.mark.parametrize("name", PICTURES)
def test_an_untilted_aged_print_full_of_straight_lines_is_neither_turned_nor_cropped(
    name: str,
) -> None:
    aged = lined(photo(name), seed=PICTURES.index(name))
    with transforms.recording() as log:
        out = frame(aged)
    assert out is aged
    assert log == []


@pytest.mark.parametrize("seed", [0, 1])
def test_a_building_against_a_flat_sky_is_no_print_on_a_bed(seed: int) -> None:
    photo_ = tower(seed)
    assert framing.find(photo_)[0] is None
    assert frame(photo_) is photo_


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut"])
def test_a_torn_corner_without_a_scanner_border_keeps_the_photo_as_it_is(
    name: str, corner: str
) -> None:
    damaged = torn(photo(name), corner, seed=len(corner))
    assert frame(damaged) is damaged


@pytest.mark.parametrize("bed", [LIGHT_BED, DARK_BED], ids=["light-lid", "dark-bed"])
@pytest.mark.parametrize("angle", [-8.0, -3.5, -1.0, 1.0, 2.5, 8.0])
@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_a_tilted_print_on_a_scanner_bed_is_levelled_and_cropped_to_the_print(
    name: str, angle: float, bed: tuple[int, int, int]
) -> None:
    print_ = framed_print(name)
    scan = on_bed(print_, angle, bed, seed=int(10 * angle) % 7)
    out = _levelled_and_cropped(print_, scan, f"{name} {angle:+.1f}°", kept=0.85)
    assert framing.find(out)[0] is None
    corners = np.asarray(out.convert("L"), np.float32)[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert np.mean(np.abs(corners - np.mean(bed)) < 6) < 1  # at least one corner is print


LAYOUTS = {
    "small-on-a-big-bed": (300, 160, 340, 220),
    "in-the-bed-corner": (-6, -6, 150, 120),
    "flush-top-and-bottom": (140, -8, 160, -8),
}


@pytest.mark.parametrize("angle", [0.0, 3.0, -5.0])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_print_anywhere_on_the_bed_is_found_levelled_and_cropped(
    layout: str, angle: float
) -> None:
    print_ = framed_print("astronaut")
    scan = on_bed(print_, angle, margins=LAYOUTS[layout])
    _levelled_and_cropped(print_, scan, f"{layout} {angle:+.1f}°", kept=0.8)


def _levelled_and_cropped(
    print_: Image.Image, scan: Image.Image, label: str, *, kept: float
) -> Image.Image:
    """The framed `scan`, checked: level to within 0.3° and cropped to the print (nothing of
    the bed left, at least `kept` of the print's width and height)."""
    out = frame(scan)
    residual = frame_angle(out)
    print(f"\n{label}: {scan.size} -> {out.size}, residual {residual:+.3f}°")
    assert abs(residual) <= 0.3
    assert out.width <= print_.width + 2
    assert out.height <= print_.height + 2
    assert out.width >= kept * print_.width
    assert out.height >= kept * print_.height
    return out


@pytest.mark.parametrize("bed", [LIGHT_BED, DARK_BED], ids=["light-lid", "dark-bed"])
@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_a_level_print_on_a_bed_loses_its_border_and_is_not_turned(
    name: str, bed: tuple[int, int, int]
) -> None:
    print_ = framed_print(name)
    scan = on_bed(print_, 0.0, bed)
    with transforms.recording() as log:
        out = frame(scan)
    assert [t.kind for t in log] == ["crop"]
    assert abs(out.width - print_.width) <= 4
    assert abs(out.height - print_.height) <= 4
    left, top = log[0].params["box"][:2]
    same = scan.crop((left, top, left + out.width, top + out.height))
    assert np.array_equal(np.asarray(out), np.asarray(same))  # cut out, not resampled
    assert abs(frame_angle(out)) < 0.1
