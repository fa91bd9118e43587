"""`repair_damage` scored on damage it did not make: cracks, scratches, a crease and dust laid
over clean pictures of several kinds, and the picture's own fine detail left alone."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from PIL import Image

from service.pipeline.damage import detect
from service.pipeline.ops.repair import repair_damage
from service.pipeline.registry import OpContext
from tests.pipeline.synthetic_damage import (
    PICTURES,
    Damaged,
    damage,
    picture,
    removal,
    ssim_outside,
)

pytest.importorskip("skimage")

MEAN_REMOVAL = 0.75
MIN_REMOVAL = 0.40
MIN_SSIM_OUTSIDE = 0.98
MIN_SSIM_CLEAN = 0.98
MAX_DETAIL_FLAGGED = 0.005  # fraction of a region of fine detail the mask may cover


# Goals not met yet, with what was measured (bench/damage_scores.py prints the whole table).
# Never loosen a goal: mark the case, and remove the mark when the repair reaches it.
SHORT: dict[tuple[str, str], str] = {
    ("removal", "grass"): "removal 0.31: over the blades the scratches stand out in line strength "
    "in pieces; the crack's curls and the dark scratch are missed",
    ("removal", "page"): "removal 0.31: the fill over print reaches 0.38 even with the true mask",
    ("removal", "mean"): "mean removal 0.62; the fill with the true masks reaches 0.74",
    ("detail", "lamp flares"): "0.8% of the right flares flagged",
    ("detail", "texture"): "0.8% of the brick wall flagged (mortar)",
}


def cases(test: str, names: object) -> list[object]:
    """The parameters of `test`, each goal not yet met marked as a strict expected failure."""
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=SHORT[(test, n)]))
        if (test, n) in SHORT
        else n
        for n in names  # type: ignore[attr-defined]
    ]


@cache
def repaired(name: str) -> tuple[Image.Image, Damaged, Image.Image]:
    """The clean picture, its damaged copy and the repair of that copy (one run per picture)."""
    clean = picture(name)
    hurt = damage(clean, PICTURES.index(name))
    return clean, hurt, repair_damage(hurt.image, OpContext())


@pytest.mark.parametrize("name", cases("removal", PICTURES))
def test_damage_is_removed_from_every_kind_of_picture(name: str) -> None:
    clean, hurt, out = repaired(name)
    score = removal(clean, hurt, out)
    print(f"\nremoval {name}: {score:.3f}")
    assert out.size == clean.size
    assert score >= MIN_REMOVAL


@pytest.mark.parametrize("name", cases("removal", ["mean"]))
def test_damage_is_mostly_removed_on_average(name: str) -> None:
    scores = [removal(*repaired(name)) for name in PICTURES]
    print("\nremoval: " + ", ".join(f"{n} {s:.3f}" for n, s in zip(PICTURES, scores, strict=True)))
    assert float(np.mean(scores)) >= MEAN_REMOVAL


@pytest.mark.parametrize("name", cases("outside", PICTURES))
def test_the_undamaged_part_is_left_as_it_was(name: str) -> None:
    clean, hurt, out = repaired(name)
    score = ssim_outside(clean, hurt, out)
    print(f"\nSSIM outside the damage {name}: {score:.4f}")
    assert score >= MIN_SSIM_OUTSIDE


@pytest.mark.parametrize("name", cases("clean", PICTURES))
def test_a_clean_picture_comes_back_as_it_was(name: str) -> None:
    from skimage.metrics import structural_similarity

    clean = picture(name)
    out = repair_damage(clean, OpContext())
    assert out.size == clean.size
    x, y = np.asarray(out), np.asarray(clean)
    score = structural_similarity(x, y, channel_axis=2 if x.ndim == 3 else None, data_range=255)
    print(f"\nSSIM clean {name}: {score:.4f}")
    assert score >= MIN_SSIM_CLEAN


# Boxes (x0, y0, x1, y1) of fine detail that is picture, not damage.
DETAIL = {
    "whiskers": ("chelsea", [(0, 190, 200, 300), (300, 180, 451, 290)]),
    "hair": ("astronaut", [(157, 13, 300, 83)]),
    "catch-lights": ("astronaut", [(190, 88, 265, 116)]),
    "lattice towers": ("rocket", [(0, 0, 90, 427), (555, 0, 640, 427), (165, 120, 210, 400)]),
    "lamp flares": ("rocket", [(90, 340, 220, 427), (330, 360, 470, 427)]),
    "text": ("page", [(0, 0, 384, 191)]),
    "fabric": ("fabric", [(0, 0, 512, 384)]),
    "texture": ("brick", [(0, 0, 512, 512)]),
}


@pytest.mark.parametrize("kind", cases("detail", DETAIL))
def test_fine_detail_is_not_taken_for_damage(kind: str) -> None:
    name, boxes = DETAIL[kind]
    clean = picture(name)
    mask = np.asarray(detect.detect(clean)) > 0
    out = np.asarray(repair_damage(clean, OpContext()))
    for x0, y0, x1, y1 in boxes:
        flagged = float(mask[y0:y1, x0:x1].mean())
        print(f"\n{kind} {(x0, y0, x1, y1)}: {flagged:.4f} of the pixels flagged")
        assert flagged <= MAX_DETAIL_FLAGGED
        changed = np.asarray(clean)[y0:y1, x0:x1] != out[y0:y1, x0:x1]
        assert float(changed.mean()) <= MAX_DETAIL_FLAGGED


def test_a_torn_corner_is_filled() -> None:
    clean = picture("astronaut")
    hurt = damage(clean, 11, ("torn_corner",))
    out = repair_damage(hurt.image, OpContext())
    assert removal(clean, hurt, out) >= MIN_REMOVAL
    assert ssim_outside(clean, hurt, out) >= MIN_SSIM_OUTSIDE


def test_a_line_within_a_face_is_the_faces_own_and_one_across_it_is_damage() -> None:
    from PIL import ImageDraw

    within = picture("astronaut")  # the face is at about (174, 64), 99 px square
    ImageDraw.Draw(within).line([(185, 150), (262, 150)], fill=(245, 240, 230), width=2)
    across = picture("astronaut")
    ImageDraw.Draw(across).line([(40, 150), (470, 150)], fill=(245, 240, 230), width=2)
    assert (np.asarray(detect.detect(within))[146:155, 185:263] == 0).all()
    found = (np.asarray(detect.detect(across))[146:155] > 0).any(axis=0)
    assert found[40:470].mean() >= 0.75  # faint over the skin, but not dropped for the face


def test_a_dot_within_a_face_is_the_faces_own_and_one_beside_it_is_dust() -> None:
    from PIL import ImageDraw

    hurt = picture("astronaut")  # the face is at about (174, 64), 99 px square
    draw = ImageDraw.Draw(hurt)
    for x, y in ((205, 140), (60, 300)):  # on the cheek, and on the suit
        draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=(20, 18, 16))
    mask = np.asarray(detect.detect(hurt)) > 0
    assert not mask[136:145, 201:210].any()  # a mole or a mouth's corner is not filled in
    assert mask[296:305, 56:65].any()


def test_a_fold_across_brick_takes_no_mortar_with_it() -> None:
    # Joined through a fold's ridge, the courses of mortar would escape their mesh test.
    clean = picture("brick")
    own = float((np.asarray(detect.find(clean).mask) == detect.DAMAGE).mean())
    for seed in (2, 5, 9, 13):
        hurt = damage(clean, seed, ("crease",))
        found = detect.find(hurt.image)
        assert len(found.folds) == 1
        beyond = float(((np.asarray(found.mask) == detect.DAMAGE) & ~hurt.mask).mean())
        print(f"\nseed {seed}: {beyond:.4f} flagged beyond the fold, {own:.4f} on the clean wall")
        assert beyond <= own + 0.003
