"""A fold's ridge and trough lie side by side in one order all along it; texture's in either."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from service.pipeline.damage import creases, detect, lines
from service.pipeline.ops._common import estimate_noise
from tests.pipeline.synthetic_damage import MIX, PICTURES, Damaged, damage, picture

ACROSS = np.array([[10.0, 100.0], [190.0, 100.0]])  # a horizontal line through a 200 × 200 picture


def _folds_of(image: Image.Image) -> list[np.ndarray]:
    """The folds `creases.folds` finds on `image`, as the detector calls it."""
    t = detect.tones(image)
    fine = lines.responses(t.grey, lines.FINE.kernel)
    return creases.folds(t.grey, *fine, estimate_noise(image))


def _found_over(name: str, seed: int, kinds: tuple[str, ...]) -> tuple[list[np.ndarray], Damaged]:
    """The folds found on `name` with the `kinds` of damage laid with `seed`, and the damage."""
    hurt = damage(picture(name), seed, kinds)
    return _folds_of(hurt.image), hurt


def _responses(rng: np.random.Generator, fold: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bright- and dark-line responses of busy texture (both stand out almost everywhere, at
    random offsets), with a fold's ridge two rows above its trough along ACROSS when `fold`."""
    bright = rng.integers(0, 60, (200, 200)).astype(np.uint8)
    dark = rng.integers(0, 60, (200, 200)).astype(np.uint8)
    if fold:
        bright[98, 10:190] = 90
        dark[102, 10:190] = 90
    return bright, dark


def test_texture_comes_in_either_order_and_a_fold_in_one() -> None:
    rng = np.random.default_rng(3)
    texture = creases.ordered_along(ACROSS, *_responses(rng, fold=False))
    fold = creases.ordered_along(ACROSS, *_responses(rng, fold=True))
    assert texture < 0.6 < creases.MIN_ORDERED < fold


def test_a_fold_along_the_pictures_edge_is_not_ordered() -> None:
    bright, dark = _responses(np.random.default_rng(4), fold=True)
    along_edge = np.array([[10.0, 3.0], [190.0, 3.0]])
    assert creases.ordered_along(along_edge, bright, dark) == 0.0


def test_a_fold_over_the_rockets_towers_is_found_by_its_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Here the picture's own lines hide part of the pair from `paired_along`'s floor.
    found, hurt = _found_over("rocket", PICTURES.index("rocket") + 37, ("crease",))
    assert len(found) == 1
    band = creases.band(hurt.mask.shape, found, 3)
    assert (band & hurt.mask).sum() > 0.5 * hurt.mask.sum()
    monkeypatch.setattr(creases, "MIN_ORDERED", 1.01)  # by the pair's cover alone: missed
    assert _folds_of(hurt.image) == []


def test_no_fold_is_found_on_clean_pictures() -> None:
    for name in PICTURES:
        assert _folds_of(picture(name)) == [], name


def test_a_fold_over_grass_is_found_because_nothing_else_lines_up_as_far(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Over the blades the ridge and the trough drown along a third of the fold, but its
    # Radon score is twice any other line's that has both.
    for seed in (PICTURES.index("grass") + s for s in (11, 23, 37)):  # as bench/crease_recall
        found, hurt = _found_over("grass", seed, ("crease",))
        assert len(found) == 1, seed
        band = creases.band(hurt.mask.shape, found, 3)
        assert (band & hurt.mask).sum() > 0.5 * hurt.mask.sum(), seed
    monkeypatch.setattr(creases, "DOMINANT", 100.0)  # without the rule: missed
    assert _found_over("grass", PICTURES.index("grass") + 11, ("crease",))[0] == []


def test_a_thin_line_has_one_lobe_and_a_ridge_beside_a_trough_two() -> None:
    grey = np.full((200, 200), 120, np.uint8)
    grey[99:101, 10:190] = 230  # a thin bright line: one lobe
    assert not creases._lobes(grey, ACROSS)
    grey[96:99, 10:190] = 170  # a ridge above a trough: two
    grey[101:104, 10:190] = 80
    assert creases._lobes(grey, ACROSS)


def test_a_dominant_fold_keeps_no_family_of_weaker_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    # Grass with all the kinds of damage laid: two faint lines of the blades run within 8° of
    # the fold, half as strong; with the scratches' lines they made it a "family".
    seed = PICTURES.index("grass")
    found = _found_over("grass", seed, MIX)[0]
    fold = damage(picture("grass"), seed, ("crease",)).mask  # the crease is laid first
    assert len(found) == 1
    assert (creases.band(fold.shape, found, 3) & fold).sum() > 0.5 * fold.sum()
    monkeypatch.setattr(creases, "DOMINANT", 100.0)
    assert _found_over("grass", seed, MIX)[0] == []
