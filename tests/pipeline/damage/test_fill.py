"""The fill rebuilds what the mask covers from the picture around it, and nothing else.

Scored on damage laid over clean pictures of several kinds (a face, a cat, a brick wall, a cup
on wood, grass): *removal* = 1 − (error to the clean picture inside the mask, after) / (the
damaged input's error there).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from service.pipeline.damage import fill
from tests.pipeline.damage import made_damage as md
from tests.pipeline.pipeline_photos import photo

PICTURES = ("astronaut", "chelsea", "brick", "coffee")


def removal(clean: Image.Image, damaged: Image.Image, fixed: Image.Image, m: np.ndarray) -> float:
    c = np.asarray(clean, np.float64)
    before = np.abs(np.asarray(damaged, np.float64) - c)[m].mean()
    after = np.abs(np.asarray(fixed, np.float64) - c)[m].mean()
    return float(1 - after / before)


def as_mask(m: np.ndarray) -> Image.Image:
    return Image.fromarray(m.astype(np.uint8) * 255)


def lines(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return md.crack(rng, shape, 3) | md.crack(rng, shape, 5) | md.scratch(rng, shape, 2)


def high_pass_std(a: np.ndarray, where: np.ndarray) -> float:
    f = a.astype(np.float32)
    return float((f - cv2.GaussianBlur(f, (0, 0), 1.5).reshape(f.shape))[where].std())


@pytest.mark.parametrize("name", PICTURES)
def test_cracks_and_scratches_are_removed(name: str) -> None:
    clean = photo(name)
    rng = np.random.default_rng(5)
    m = lines(rng, (clean.height, clean.width))
    damaged = md.lay(clean, m, rng)
    fixed = fill.fill(damaged, as_mask(m))
    assert removal(clean, damaged, fixed, m) >= 0.85


@pytest.mark.parametrize("name", PICTURES)
def test_torn_corner_and_missing_patch_are_filled(name: str) -> None:
    clean = photo(name)
    rng = np.random.default_rng(5)
    shape = (clean.height, clean.width)
    m = md.torn_corner(rng, shape, 0.2, 2) | md.hole(rng, shape, 25)
    damaged = md.lay(clean, m, rng)
    fixed = fill.fill(damaged, as_mask(m))
    assert removal(clean, damaged, fixed, m) >= 0.7


def test_pixels_outside_the_mask_are_bit_identical() -> None:
    clean = photo("coffee")
    rng = np.random.default_rng(1)
    shape = (clean.height, clean.width)
    m = lines(rng, shape) | md.torn_corner(rng, shape, 0.25, 0)
    damaged = md.lay(clean, m, rng)
    fixed = np.asarray(fill.fill(damaged, as_mask(m)))
    assert np.array_equal(fixed[~m], np.asarray(damaged)[~m])
    assert not np.array_equal(fixed[m], np.asarray(damaged)[m])


def test_an_empty_mask_gives_back_the_very_same_image() -> None:
    image = photo("chelsea")
    assert fill.fill(image, Image.new("L", image.size)) is image


@pytest.mark.parametrize("name", ["grass", "brick", "gravel"])
def test_grain_and_pattern_go_on_across_a_big_hole(name: str) -> None:
    clean = photo(name)
    rng = np.random.default_rng(2)
    m = md.torn_corner(rng, (clean.height, clean.width), 0.3, 1)
    damaged = md.lay(clean, m, rng)
    fixed = np.asarray(fill.fill(damaged, as_mask(m)))
    inner = cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    ring = cv2.dilate(m.astype(np.uint8), np.ones((61, 61), np.uint8)).astype(bool) & ~m
    around = high_pass_std(np.asarray(clean), ring)
    assert 0.6 <= high_pass_std(fixed, inner) / around <= 1.6
    # What the test guards against: a diffusion inpaint alone is a smooth patch there.
    smooth = cv2.inpaint(np.asarray(damaged), m.astype(np.uint8), 3, cv2.INPAINT_NS)
    assert high_pass_std(smooth, inner) / around < 0.3


def test_alpha_stays_as_it_was() -> None:
    rgb = photo("astronaut").resize((256, 256))
    alpha = Image.linear_gradient("L").resize((256, 256))
    clean = rgb.copy()
    clean.putalpha(alpha)
    rng = np.random.default_rng(3)
    m = lines(rng, (256, 256)) | md.hole(rng, (256, 256), 20)
    damaged = md.lay(clean, m, rng)
    fixed = fill.fill(damaged, as_mask(m))
    assert fixed.mode == "RGBA"
    assert np.array_equal(np.asarray(fixed)[..., 3], np.asarray(alpha))
    assert removal(rgb, damaged.convert("RGB"), fixed.convert("RGB"), m) >= 0.7


@pytest.mark.parametrize("mode", ["L", "LA", "I;16", "I;16B", "F"])
def test_grey_and_deep_modes_are_filled_in_their_own_mode(mode: str) -> None:
    grey = photo("camera").resize((256, 256))
    rng = np.random.default_rng(4)
    m = lines(rng, (256, 256)) | md.hole(rng, (256, 256), 20)
    damaged_l = md.lay(grey, m, rng)
    scale = {"I;16": 257.0, "I;16B": 257.0, "F": 1 / 255}.get(mode, 1.0)
    dtype = {"I;16": "<u2", "I;16B": ">u2", "F": "<f4"}.get(mode, "u1")

    def to_mode(im: Image.Image) -> Image.Image:
        a = (np.asarray(im, np.float64) * scale).astype(dtype)
        if mode == "LA":
            return Image.merge("LA", (im, Image.new("L", im.size, 200)))
        return Image.frombytes(mode, im.size, a.tobytes()) if mode != "L" else im

    damaged = to_mode(damaged_l)
    fixed = fill.fill(damaged, as_mask(m))
    assert fixed.mode == mode
    out = np.asarray(fixed).astype(np.float64)
    out = out[..., 0] if mode == "LA" else out / scale
    got = Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
    assert removal(grey, damaged_l, got, m) >= 0.8
    assert np.array_equal(np.asarray(fixed)[~m], np.asarray(damaged)[~m])


def test_a_large_scan_is_filled_tile_by_tile_like_the_whole() -> None:
    clean = photo("coffee").resize((2400, 1600), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(3)
    shape = (1600, 2400)
    m = np.zeros(shape, bool)
    for _ in range(3):
        m |= md.crack(rng, shape, 3) | md.scratch(rng, shape, 2)
    m |= md.torn_corner(rng, shape, 0.15, 3)
    damaged = md.lay(clean, m, rng)
    fixed = fill.fill(damaged, as_mask(m))
    assert removal(clean, damaged, fixed, m) >= 0.8
    assert np.array_equal(np.asarray(fixed)[~m], np.asarray(damaged)[~m])
    # Lines come out as one inpaint of the whole picture would have them: tiles leave no seam.
    whole = cv2.inpaint(np.asarray(damaged), m.astype(np.uint8), 3, cv2.INPAINT_NS)
    holes = fill.holes_of(m).astype(np.uint8)
    far = m & ~cv2.dilate(holes, np.ones((41, 41), np.uint8)).astype(bool)
    diff = np.abs(np.asarray(fixed, np.int16) - whole.astype(np.int16))[far]
    assert np.percentile(diff, 99) <= 3


def test_in_place_writes_into_the_image_given() -> None:
    image = photo("chelsea")
    rng = np.random.default_rng(6)
    m = lines(rng, (image.height, image.width))
    damaged = md.lay(image, m, rng)
    kept = damaged.copy()
    assert fill.fill(damaged, as_mask(m), in_place=True) is damaged
    assert not np.array_equal(np.asarray(damaged), np.asarray(kept))
    fresh = fill.fill(kept, as_mask(m))
    assert np.array_equal(np.asarray(fresh), np.asarray(damaged))


def test_a_mask_of_another_size_or_an_odd_mode_is_refused() -> None:
    image = photo("chelsea")
    with pytest.raises(ValueError, match="does not match"):
        fill.fill(image, Image.new("L", (10, 10), 255))
    with pytest.raises(ValueError, match="cannot fill a P image"):
        fill.fill(image.convert("P"), Image.new("L", image.size, 255))


def test_a_hole_larger_than_a_piece_is_filled_piece_by_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fill, "HOLE_PIECE", 96)  # a 512-px picture then shows what 45 MP does
    clean = photo("coffee")
    rng = np.random.default_rng(8)
    shape = (clean.height, clean.width)
    m = md.torn_corner(rng, shape, 0.45, 0) | md.hole(rng, shape, 70)
    damaged = md.lay(clean, m, rng)
    fixed = fill.fill(damaged, as_mask(m))
    assert np.array_equal(np.asarray(fixed)[~m], np.asarray(damaged)[~m])
    assert removal(clean, damaged, fixed, m) >= 0.6
    # No piece was filled without a picture round it: nothing paper-white or black is left.
    grey = np.asarray(fixed.convert("L"))[m]
    assert np.percentile(grey, 99) < 230
    assert np.percentile(grey, 1) > 10
