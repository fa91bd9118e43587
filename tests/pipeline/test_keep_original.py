"""The "keep the original here" brush: the original lines up with the result and comes back
exactly inside the mask, nowhere else."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.config.catalog import Chain, Step
from service.config.settings import Settings
from service.errors import InvalidEdit
from service.pipeline import transforms
from service.pipeline.ops.keep import decode_mask
from service.pipeline.registry import OpContext
from service.pipeline.restore import restore_image
from service.pipeline.runner import ChainRunner, LocalExecutor, RunContext
from tests.images import photo

CHAIN = Chain(
    name="frame",
    title="frame",
    description="",
    steps=(
        Step("local", "remove_border"),
        Step("local", "deskew"),
        Step("local", "auto_levels"),
        Step("local", "color_balance"),
    ),
)


def scan(path: Path) -> Image.Image:
    """A faded print, tilted 3°, on a white scanner bed."""
    print_ = photo(480, 360).point(lambda v: 60 + v // 2)
    tilted = print_.rotate(3, expand=True, fillcolor=(250, 250, 250))
    bed = Image.new("RGB", (tilted.width + 80, tilted.height + 80), (250, 250, 250))
    bed.paste(tilted, (40, 40))
    bed.save(path, quality=95)
    return bed


def mask_url(size: tuple[int, int], box: tuple[float, float, float, float]) -> str:
    m = Image.new("L", size, 0)
    w, h = size
    ImageDraw.Draw(m).rectangle((box[0] * w, box[1] * h, box[2] * w, box[3] * h), fill=255)
    buf = io.BytesIO()
    m.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def arr(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.int16)


async def test_replaying_the_frame_log_lines_the_original_up(tmp_path: Path) -> None:
    original = scan(tmp_path / "s.jpg")
    runner = ChainRunner({"local": LocalExecutor()})
    ctx = RunContext(op_context=OpContext(original_size=original.size))
    geometry_only = Chain(
        "g",
        "g",
        "",
        (
            Step("local", "remove_border"),
            Step("local", "deskew"),
            Step("local", "rotate", params={"degrees": 90}),
            Step("local", "upscale", params={"factor": 1.5}),
        ),
    )
    with transforms.recording() as log:
        run = await runner.run(original, geometry_only, ctx)
    assert [t.kind for t in log] == ["crop", "rotate_crop", "transpose", "resize"]
    replayed = transforms.replay(original, log)
    assert replayed.size == run.image.size
    assert np.abs(arr(replayed) - arr(run.image)).max() == 0  # same ops, same pixels


async def test_the_original_comes_back_inside_the_mask_only(tmp_path: Path) -> None:
    src = tmp_path / "scan.jpg"
    scan(src)
    runner = ChainRunner({"local": LocalExecutor()})
    settings = Settings(data_dir=tmp_path)
    plain = await restore_image(src, CHAIN, runner, settings)
    size = plain.run.image.size
    left_half = {
        "op": "keep_original",
        "params": {"mask": mask_url((200, 150), (0, 0, 0.5, 1)), "feather": 0},
    }
    kept = await restore_image(src, CHAIN, runner, settings, edits=[left_half])
    assert kept.run.image.size == size
    assert kept.run.steps[-1].name == "keep_original"
    assert kept.run.steps[-1].status == "done"
    a, b = arr(plain.run.image), arr(kept.run.image)
    w = size[0]
    right = slice(w // 2 + 4, w)
    left = slice(0, w // 2 - 4)
    assert np.abs(a[:, right] - b[:, right]).max() == 0  # untouched outside the mask
    # inside: the faded original (replayed through crop + deskew), not the corrected tones
    with transforms.recording() as log:
        await ChainRunner({"local": LocalExecutor()}).run(
            Image.open(src).convert("RGB"),
            CHAIN,
            __import__("service.pipeline.runner", fromlist=["RunContext"]).RunContext(
                op_context=OpContext(original_size=size)
            ),
        )
    aligned = arr(transforms.replay(Image.open(src).convert("RGB"), log))
    assert np.abs(aligned[:, left] - b[:, left]).mean() < 1.0
    assert np.abs(a[:, left] - b[:, left]).mean() > 5.0  # and it differs from the restoration


@pytest.mark.parametrize(
    "mask",
    [
        None,
        "data:image/jpeg;base64,AAAA",
        "data:image/png;base64,!!",
        "data:image/png;base64," + "A" * (3 * 1024 * 1024),
    ],
)
def test_a_bad_mask_is_refused_with_a_reason(mask: object) -> None:
    with pytest.raises(InvalidEdit, match="keep_original"):
        decode_mask(mask)
