"""Damage over a regular texture is found by what breaks the pattern; the pattern's own end,
and every texture that does not repeat, is left alone."""

from __future__ import annotations

import numpy as np

from service.pipeline.damage import detect, pattern
from tests.pipeline.damage import made_damage as md
from tests.pipeline.damage.textures import lattice, twill
from tests.pipeline.pipeline_photos import photo


def dusty_twill(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey twill with a dark scratch and specks of dust on it, and where they are."""
    rng = np.random.default_rng(seed)
    clean = twill().mean(axis=2).astype(np.uint8)
    m = md.scratch(rng, clean.shape, 2)
    for _ in range(40):
        y, x = rng.integers(8, clean.shape[0] - 8), rng.integers(8, clean.shape[1] - 8)
        m[y - 1 : y + 2, x - 1 : x + 2] = True
    hurt = clean.copy()
    hurt[m] = np.where(rng.random(int(m.sum())) < 0.5, 25, 235)
    return hurt, m


def test_specks_and_a_scratch_on_a_weave_break_its_pattern() -> None:
    for seed in (1, 2):
        hurt, m = dusty_twill(seed)
        found = pattern.broken(hurt)
        recall, precision = float(found[m].mean()), float(m[found].mean())
        print(f"\nseed {seed}: recall {recall:.2f}, precision {precision:.2f}")
        assert recall >= 0.7
        assert precision >= 0.9


def test_the_detector_finds_what_the_line_and_speck_tests_miss_on_a_weave() -> None:
    hurt, m = dusty_twill(1)
    mask = np.asarray(detect.detect(detect.Image.fromarray(hurt))) > 0
    assert float(mask[m].mean()) >= 0.85  # the other detectors alone: 0.69


def test_a_clean_weave_and_the_end_of_a_lattice_are_no_damage() -> None:
    for angle in (0.0, 7.0, 20.0, 33.0, 45.0):
        flagged = pattern.broken(twill(angle=angle).mean(axis=2).astype(np.uint8))
        assert float(flagged.mean()) <= 0.0001, angle  # a few pixels at most
    assert int(pattern.broken(lattice()).sum()) <= 10


def test_textures_that_do_not_repeat_are_left_to_the_other_detectors() -> None:
    for name in ("grass", "chelsea", "astronaut", "brick"):
        grey = np.asarray(photo(name).convert("L"))
        assert not pattern.broken(grey).any(), name
