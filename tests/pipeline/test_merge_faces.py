"""The face check of the merge: a face the model changed asks for review, with its box and
score; an untouched one does not; the chain's fidelity level sets how much change is fine."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.pipeline.fullres_support import aged, astronaut, merged, perfect, realistic
from tests.pipeline.pipeline_photos import photo

FACE = (264, 98, 142, 142)  # the astronaut's face in the 768-px picture: x, y, w, h


@pytest.fixture(scope="module")
def clean() -> Image.Image:
    return astronaut(768)


@pytest.fixture(scope="module")
def scan(clean: Image.Image) -> Image.Image:
    return aged(clean)


def with_face(answer: Image.Image, change: object) -> Image.Image:
    """`answer` with the region of the face (in the answer's pixels) replaced by change(face)."""
    f = answer.width / 768
    x, y, w, h = (round(v * f) for v in FACE)
    out = answer.copy()
    out.paste(change(out.crop((x, y, x + w, y + h))), (x, y))  # type: ignore[operator]
    return out


def features_moved(frac: float) -> object:
    def change(face: Image.Image) -> Image.Image:
        w, h = face.size
        data = (1, 0, -frac * w, 0, 1, 0.5 * frac * h)
        return face.transform(face.size, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)

    return change


def test_an_untouched_face_is_measured_and_not_flagged(
    clean: Image.Image, scan: Image.Image
) -> None:
    for model in (perfect, realistic):  # a slight blur and smoothed skin are not a new face
        _, found, _ = merged(model(clean, 2), scan)
        faces = found.measurements["faces"]
        assert len(faces) == 1
        assert faces[0]["score"] < faces[0]["limit"]
        x, y, w, h = faces[0]["box"]  # in the scan's pixels
        assert abs(x + w / 2 - (FACE[0] + FACE[2] / 2)) < FACE[2] / 3
        assert abs(y + h / 2 - (FACE[1] + FACE[3] / 2)) < FACE[3] / 3
        assert found.review == []


def test_a_face_the_model_replaced_is_flagged_with_its_box_and_score(
    clean: Image.Image, scan: Image.Image
) -> None:
    stranger = photo("camera").convert("RGB").crop((190, 40, 330, 180))
    answer = with_face(perfect(clean, 2), lambda face: stranger.resize(face.size))
    _, found, _ = merged(answer, scan)
    (face,) = found.measurements["faces"]
    assert face["score"] > face["limit"]
    assert len(found.review) == 1
    assert found.review[0].startswith("a face changed")
    assert f"score {face['score']:.2f}" in found.review[0]


@pytest.mark.parametrize(
    ("fidelity", "flagged"), [("faithful", True), ("balanced", True), ("strong", False)]
)
def test_the_fidelity_level_sets_how_much_change_a_face_may_take(
    clean: Image.Image, scan: Image.Image, fidelity: str, flagged: bool
) -> None:
    answer = with_face(perfect(clean, 2), features_moved(0.04))
    _, found, _ = merged(answer, scan, fidelity=fidelity)
    assert bool(found.review) is flagged
