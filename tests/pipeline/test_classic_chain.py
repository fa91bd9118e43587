"""The `classic` chain, run as the worker runs it, on aged and on clean real photographs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pipeline_photos import PHOTOS, age, photo, ssim

from service.pipeline.runner import RunResult

AUTOMATIC = {"repair_damage", "denoise", "auto_levels"}


@pytest.mark.parametrize("name", PHOTOS)
def test_classic_measurably_improves_an_aged_print(
    name: str, run_classic: Callable[..., RunResult], record_property: Callable[..., None]
) -> None:
    clean = photo(name)
    aged = age(clean, seed=PHOTOS.index(name))
    result = run_classic(aged)
    before, after = ssim(aged, clean), ssim(result.image, clean)
    record_property("ssim", f"{before:.3f} -> {after:.3f}")
    print(f"\nSSIM {name}: aged {before:.3f} -> restored {after:.3f}")
    assert result.image.size == clean.size
    assert after > before + 0.02
    done = {s.name for s in result.steps if s.status == "done"}
    assert done >= AUTOMATIC


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_clean_photo_is_left_nearly_untouched(
    name: str, run_classic: Callable[..., RunResult], record_property: Callable[..., None]
) -> None:
    clean = photo(name)
    result = run_classic(clean)
    score = ssim(result.image, clean)
    record_property("ssim", f"{score:.4f}")
    print(f"\nSSIM clean {name}: {score:.4f}")
    assert score >= 0.97
    skipped = {s.name for s in result.steps if s.status == "skipped"}
    assert {"remove_border", "deskew", "denoise", "auto_levels", "sharpen"} <= skipped
