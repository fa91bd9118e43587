"""Tears and missing corners are found where the paper shows at the edge, and nowhere else:
not in a sky, a white dress, snow, an overexposed highlight or a print's own white margin."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from service.pipeline.damage import tears
from tests.pipeline.damage import made_damage as md
from tests.pipeline.pipeline_photos import age, photo

PICTURES = ("astronaut", "chelsea", "brick", "coffee", "camera", "grass", "rocket")
CLEAN = (*PICTURES, "gravel", "hubble_deep_field", "retina", "moon", "page", "text", "coins")


def recall_precision(found: np.ndarray | None, truth: np.ndarray) -> tuple[float, float]:
    if found is None:
        return 0.0, 1.0
    hit = float((found & truth).sum())
    return hit / truth.sum(), hit / max(1, int(found.sum()))


def torn(name: str, seed: int, corner: bool) -> tuple[Image.Image, np.ndarray]:
    clean = photo(name)
    rng = np.random.default_rng(seed)
    shape = (clean.height, clean.width)
    truth = md.torn_corner(rng, shape, 0.2, seed % 4) if corner else md.torn_edge(rng, shape)
    return md.lay(clean, truth, rng), truth


@pytest.mark.parametrize("name", PICTURES)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_torn_corner_is_found_with_its_outline(name: str, seed: int) -> None:
    damaged, truth = torn(name, seed, corner=True)
    found = tears.tear_mask(damaged)
    assert found is not None
    assert found.shape == truth.shape
    assert found.dtype == bool
    recall, precision = recall_precision(found, truth)
    assert recall >= 0.95
    assert precision >= 0.85  # a few pixels of fringe round the torn edge are meant


def test_torn_edges_are_found_on_most_pictures() -> None:
    scores = [
        recall_precision(tears.tear_mask(d), t) for d, t in (torn(n, 1, False) for n in PICTURES)
    ]
    recalls = [r for r, _ in scores]
    assert np.mean(recalls) >= 0.85
    assert all(p >= 0.8 for _, p in scores)


def test_a_tear_on_a_large_scan_is_masked_at_full_size() -> None:
    clean = photo("coffee").resize((3000, 2000), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(4)
    truth = md.torn_corner(rng, (2000, 3000), 0.18, 2)
    found = tears.tear_mask(md.lay(clean, truth, rng))
    assert found is not None
    assert found.shape == (2000, 3000)
    recall, precision = recall_precision(found, truth)
    assert recall >= 0.97
    assert precision >= 0.9


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "I;16", "I;16B"])
def test_tears_are_found_in_every_working_mode(mode: str) -> None:
    # Twice the photo's size, so the thumbnail is a reduced copy (Pillow reduces no 16-bit).
    clean = photo("chelsea").resize((902, 600), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(2)
    truth = md.torn_corner(rng, (600, 902), 0.2, 2)
    damaged = md.lay(clean, truth, rng)
    if mode in ("L", "LA", "RGBA"):
        image = damaged.convert(mode)
    else:
        grey = np.asarray(damaged.convert("L")).astype(np.uint16) * 257
        raw = grey.astype("<u2" if mode == "I;16" else ">u2").tobytes()
        image = Image.frombytes(mode, damaged.size, raw)
    recall, precision = recall_precision(tears.tear_mask(image), truth)
    assert recall >= 0.95
    assert precision >= 0.85


@pytest.mark.parametrize("name", CLEAN)
def test_clean_pictures_have_no_tear(name: str) -> None:
    assert tears.tear_mask(photo(name)) is None


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "camera", "rocket"])
def test_a_print_with_its_own_white_margin_has_no_tear(name: str) -> None:
    clean = photo(name)
    white = (245, 244, 238) if clean.mode == "RGB" else 245
    assert tears.tear_mask(ImageOps.expand(clean, border=clean.width // 25, fill=white)) is None


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "rocket"])
@pytest.mark.parametrize(("gain", "lift"), [(2.0, 0.0), (1.5, 20.0)])
def test_overexposed_highlights_at_the_edge_are_no_tear(
    name: str, gain: float, lift: float
) -> None:
    a = np.asarray(photo(name), np.float32) * gain + lift
    assert tears.tear_mask(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))) is None


def _paint(clean: Image.Image, where: np.ndarray, values: np.ndarray) -> Image.Image:
    a = np.asarray(clean, np.float32).copy()
    a[where] = values[where]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_sky_a_white_dress_and_snow_at_the_edge_are_no_tear(name: str) -> None:
    clean = photo(name)
    h, w = clean.height, clean.width
    rng = np.random.default_rng(0)
    yy = np.linspace(0, 1, h)[:, None, None] * np.ones((1, w, 1))
    xx = np.arange(w)[None, :, None] * np.ones((h, 1, 3))
    # A sky in the corner, with a ragged tree line: blue, or grey and darkening upwards.
    corner = md.torn_corner(rng, (h, w), 0.35, 1)
    blue = np.concatenate([200 + 30 * yy, 215 + 25 * yy, 240 + 0 * yy], axis=2)
    grey = np.repeat(215 + 25 * yy, 3, axis=2)
    # A white dress at the bottom (folds), snow along the bottom (soft shading, sparkle).
    dress = md.torn_edge(rng, (h, w), 0.35)[::-1]
    folds = 225 + 18 * np.sin(xx / 9.0)
    snow = np.zeros((h, w), bool)
    snow[int(0.7 * h) :] = True
    drifts = 235 + 10 * np.sin(xx / 40.0) + rng.normal(0, 3, (h, w, 1))
    for where, values in ((corner, blue), (corner, grey), (dress, folds), (snow, drifts)):
        assert tears.tear_mask(_paint(clean, where, values)) is None


def test_a_scanner_strip_and_rounded_print_corners_are_no_tear() -> None:
    clean = photo("coffee")
    h, w = clean.height, clean.width
    lid = np.full((h, w, 3), 243.0)
    strip = np.zeros((h, w), bool)
    strip[:, : w // 30] = True  # what a border crop left of the lid along one side
    assert tears.tear_mask(_paint(clean, strip, lid)) is None
    yy, xx = np.mgrid[0:h, 0:w]
    r = h // 10
    rounded = np.zeros((h, w), bool)
    for cy, cx in ((r, r), (r, w - 1 - r), (h - 1 - r, r), (h - 1 - r, w - 1 - r)):
        box = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
        beyond = ((yy - cy) * np.sign(cy - h / 2) > 0) & ((xx - cx) * np.sign(cx - w / 2) > 0)
        rounded |= box & beyond & ((yy - cy) ** 2 + (xx - cx) ** 2 > r * r)
    assert tears.tear_mask(_paint(clean, rounded, lid)) is None


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "camera", "brick"])
def test_a_torn_corner_through_a_white_margin_is_found_inside_it(name: str) -> None:
    clean = photo(name)
    border = clean.width // 25
    white = (245, 244, 238) if clean.mode == "RGB" else 245
    framed = ImageOps.expand(clean, border=border, fill=white)
    rng = np.random.default_rng(1)
    shape = (framed.height, framed.width)
    corner = md.torn_corner(rng, shape, 0.25, 1)
    inside = np.zeros(shape, bool)
    inside[border:-border, border:-border] = True
    found = tears.tear_mask(md.lay(framed, corner, rng))
    recall, precision = recall_precision(found, corner & inside)
    assert recall >= 0.95
    assert precision >= 0.8  # the mask reaches a few pixels into the margin


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera", "retina"])
def test_an_aged_print_has_no_tear_until_it_is_torn(name: str) -> None:
    aged = age(photo(name), 1)
    assert tears.tear_mask(aged) is None
    rng = np.random.default_rng(1)
    truth = md.torn_corner(rng, (aged.height, aged.width), 0.2, 3)
    recall, precision = recall_precision(tears.tear_mask(md.lay(aged, truth, rng)), truth)
    assert recall >= 0.95
    assert precision >= 0.85
