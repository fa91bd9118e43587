"""The aligned "before": the original, reduced, carried through a run's crops, turns,
straightening and warp in one resampling, lines up with the result as the full-size replay does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.config.catalog import Chain, Step
from service.config.settings import Settings
from service.pipeline import aligned, transforms
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor
from service.pipeline.transforms import Transform
from tests.images import photo

CHAIN = Chain(
    "frame",
    "frame",
    "",
    tuple(Step("local", op) for op in ("remove_border", "deskew", "auto_levels", "color_balance")),
)


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize("method", list(Image.Transpose))
def test_each_quarter_turn_and_flip_maps_like_pillow(method: Image.Transpose) -> None:
    im = noise(90, 60)
    expected = im.transpose(method)
    log = [Transform("transpose", {"method": int(method)})]
    out = aligned.replay_small(aligned.Proxy(im, 1.0, im.size), log, expected.size)
    assert np.array_equal(np.asarray(out), np.asarray(expected))


def dots(size: tuple[int, int]) -> tuple[Image.Image, list[tuple[int, int]]]:
    """A grey picture with dark dots on a grid: places to find again after the frame changes."""
    im = Image.new("RGB", size, (200, 200, 200))
    draw = ImageDraw.Draw(im)
    centres = [
        (x, y) for x in range(150, size[0] - 100, 230) for y in range(140, size[1] - 100, 210)
    ]
    for i, (x, y) in enumerate(centres):
        r = 14 + (i % 3) * 4
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(20, 20, 20))
    return im, centres


def dark_centroids(im: Image.Image) -> np.ndarray:
    """Centres of the dark dots, sorted (not the fill a warp leaves at an edge)."""
    import cv2

    grey = np.asarray(im.convert("L"))
    _, _, stats, centres = cv2.connectedComponentsWithStats((grey < 110).astype(np.uint8))
    h, w = grey.shape

    def inside(s: np.ndarray) -> bool:
        x, y, bw, bh = s[:4]
        return bool(x > 1 and y > 1 and x + bw < w - 1 and y + bh < h - 1)

    keep = [c for c, s in zip(centres[1:], stats[1:], strict=True) if inside(s)]
    return np.array(keep, float).reshape(-1, 2)


def furthest(found: np.ndarray, expected: np.ndarray) -> float:
    """How far the worst expected dot is from the nearest found one."""
    if not len(found):
        return float("inf")
    gaps = np.linalg.norm(expected[:, None, :] - found[None, :, :], axis=2)
    return float(gaps.min(axis=1).max())


LOG = [
    Transform("crop", {"box": [37, 21, 1461, 1093]}),
    Transform("rotate_crop", {"degrees": 2.7, "box": None, "resample": 3}),
    Transform("transpose", {"method": int(Image.Transpose.ROTATE_90)}),
    Transform("resize", {"size": [300, 420]}),  # a model's smaller answer…
    Transform(  # …put back onto the scan's frame with a small correction of its drift
        "warp",
        {"matrix": [[0.995, 0.01, 0.004], [-0.01, 0.995, -0.003]], "size": [1010, 1380]},
    ),
]


def test_the_reduced_original_lines_up_with_the_full_size_replay() -> None:
    original, _ = dots((1500, 1120))
    full = transforms.replay(original, LOG)
    out_size = aligned.preview_size(full.size, 320)
    small = aligned.replay_small(aligned.proxy(original, 640), LOG, out_size)
    assert small.size == out_size
    expected = dark_centroids(full.resize(out_size, Image.Resampling.LANCZOS))
    found = dark_centroids(small)
    assert len(found) == len(expected) >= 12
    assert furthest(found, expected) < 0.75  # pixels of the 320-px preview
    unaligned = dark_centroids(original.resize(out_size, Image.Resampling.LANCZOS))
    assert furthest(unaligned, expected) > 10


def tilted_scan(path: Path) -> Image.Image:
    """A print with dots, tilted 3° on a white scanner bed: the chain crops and straightens it."""
    print_, _ = dots((1100, 800))
    base = photo(1100, 800).point(lambda v: 130 + v // 8)
    base.paste(print_, mask=print_.convert("L").point(lambda v: 255 if v < 100 else 0))
    tilted = base.rotate(3, expand=True, fillcolor=(250, 250, 250))
    bed = Image.new("RGB", (tilted.width + 120, tilted.height + 120), (250, 250, 250))
    bed.paste(tilted, (60, 60))
    bed.save(path, quality=95)
    return bed


async def test_a_restore_hands_back_the_original_in_the_results_frame(tmp_path: Path) -> None:
    src = tmp_path / "scan.jpg"
    original = tilted_scan(src)
    runner = ChainRunner({"local": LocalExecutor()})
    restored = await restore_image(src, CHAIN, runner, Settings(data_dir=tmp_path), before_edge=400)
    result = restored.run.image
    assert [s.status for s in restored.run.steps[:2]] == ["done", "done"]  # cropped, straightened
    before = restored.aligned_before
    assert before is not None
    assert before.size == aligned.preview_size(result.size, 400)
    expected = dark_centroids(result.resize(before.size, Image.Resampling.LANCZOS))
    assert len(expected) >= 9
    assert furthest(dark_centroids(before), expected) < 1.0  # px of the 400-px preview
    as_scanned = dark_centroids(original.resize(before.size, Image.Resampling.LANCZOS))
    assert furthest(as_scanned, expected) > 10
    without = await restore_image(src, CHAIN, runner, Settings(data_dir=tmp_path))
    assert without.aligned_before is None
