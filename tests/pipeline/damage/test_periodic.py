"""Lines over a regular texture are rebuilt from its repeats; over any other texture the
repeats are not imagined, and the fill stays the inpaint's."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from service.pipeline.damage import fill, periodic
from tests.pipeline.damage import made_damage as md
from tests.pipeline.damage.textures import twill
from tests.pipeline.pipeline_photos import photo


def damaged_lines(clean: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`clean` with two cracks and a scratch laid over it at the paper's tone, and where."""
    rng = np.random.default_rng(seed)
    shape = clean.shape[:2]
    m = md.crack(rng, shape, 3) | md.crack(rng, shape, 2) | md.scratch(rng, shape, 2)
    out = clean.copy()
    out[m] = md.PAPER
    return out, m


def removal(clean: np.ndarray, damaged: np.ndarray, fixed: np.ndarray, m: np.ndarray) -> float:
    c = clean.astype(np.float64)
    before = np.abs(damaged.astype(np.float64) - c)[m].mean()
    return float(1 - np.abs(fixed.astype(np.float64) - c)[m].mean() / before)


def test_lines_across_a_weave_are_rebuilt_thread_by_thread() -> None:
    clean = twill()
    damaged, m = damaged_lines(clean, 4)
    fixed = np.asarray(fill.fill(Image.fromarray(damaged), Image.fromarray(m.view(np.uint8) * 255)))
    inpainted = cv2.inpaint(damaged, m.view(np.uint8), 3, cv2.INPAINT_NS)
    ours, theirs = removal(clean, damaged, fixed, m), removal(clean, damaged, inpainted, m)
    print(f"\nremoval over a twill: {ours:.3f} (the inpaint alone: {theirs:.3f})")
    assert ours >= 0.9
    assert 1 - ours <= 0.5 * (1 - theirs)  # at most half the inpaint's error is left
    assert np.array_equal(fixed[~m], damaged[~m])


def test_a_weave_repeats_one_lattice_step_away() -> None:
    clean = twill(angle=0.0)
    grey = clean.mean(axis=2)
    found = periodic.shifts(grey, np.ones(grey.shape, bool))
    assert found
    # Untilted, the cloth is the same picture 6 px along and 7 px down (or a sum of those).
    for dy, dx in found[:2]:
        assert round(dy) % 7 in (0, 6, 1) or round(dx) % 6 in (0, 5, 1), (dy, dx)


def test_no_repeat_is_seen_in_grain_grass_fur_or_a_smooth_enlargement() -> None:
    rng = np.random.default_rng(1)
    grain = np.clip(128 + rng.normal(0, 12, (300, 300)), 0, 255)
    enlarged = np.asarray(photo("coffee").convert("L").resize((1600, 1066), Image.BICUBIC))
    for name, grey in (
        ("grain", cv2.GaussianBlur(grain, (0, 0), 1.0)),
        ("grass", np.asarray(photo("grass").convert("L"))),
        ("cat", np.asarray(photo("chelsea").convert("L"))),
        ("enlarged", enlarged[300:812, 500:1012]),
        ("brick", np.asarray(photo("brick").convert("L"))),
    ):
        found = periodic.shifts(grey.astype(np.float32), np.ones(grey.shape, bool))
        assert found == [], name


def test_damage_is_never_its_own_source() -> None:
    clean = twill(angle=0.0)
    grey = clean.mean(axis=2)
    known = np.ones(grey.shape, bool)
    known[:, 200:203] = False  # a scratch down the cloth, every 6 px over: the period's echo
    filled = cv2.inpaint(clean, (~known).view(np.uint8), 3, cv2.INPAINT_NS)
    found = periodic.shifts(grey, known)
    lines = ~known
    out = periodic.rebuilt(clean, filled, lines, known, found)
    # Every rebuilt pixel came from undamaged cloth: a period away, never from the scratch.
    assert np.abs(out[lines].astype(int) - clean[lines].astype(int)).mean() < 12
    assert np.array_equal(out[known], filled[known])


def test_a_small_window_says_nothing() -> None:
    grey = twill((60, 60)).mean(axis=2)
    assert periodic.shifts(grey, np.ones(grey.shape, bool)) == []
