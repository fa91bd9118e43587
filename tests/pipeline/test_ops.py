"""Each operation finds and fixes its defect, and hands a clean input back as the same object."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter
from pipeline_photos import photo, ssim

from service.errors import ConfigError, InvalidEdit
from service.pipeline import registry
from service.pipeline.damage import specks
from service.pipeline.ops import detail, framing
from service.pipeline.ops._common import PARALLEL_MIN_PIXELS, estimate_noise, grey_array, thumbnail
from service.pipeline.registry import OpContext
from service.pipeline.resample import inscribed_size

CTX = OpContext()
AUTOMATIC = [
    "remove_border",
    "deskew",
    "dust_scratch",
    "denoise",
    "auto_levels",
    "color_balance",
    "sharpen",
]


def op(name: str, image: Image.Image, **params: object) -> Image.Image:
    return registry.get(name).func(image, CTX, **params)


def on_flatbed(print_: Image.Image, angle: float = 0.0, pad: int = 40) -> Image.Image:
    lid = (246, 246, 242)
    turned = print_.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=lid)
    scan = Image.new("RGB", (turned.width + 2 * pad, turned.height + 2 * pad + 20), lid)
    scan.paste(turned, (pad, pad + 10))
    return scan


@pytest.mark.parametrize("name", [n for n in AUTOMATIC if n != "dust_scratch"])
@pytest.mark.parametrize("photo_name", ["astronaut", "camera"])
def test_clean_photo_is_returned_as_the_same_object(name: str, photo_name: str) -> None:
    clean = photo(photo_name)
    assert op(name, clean) is clean


@pytest.mark.parametrize("photo_name", ["astronaut", "camera", "chelsea"])
def test_dust_scratch_barely_touches_a_clean_photo(photo_name: str) -> None:
    # Thin bright details (catch-lights, wires) look like scratches locally; a few are touched.
    clean = photo(photo_name)
    out = op("dust_scratch", clean)
    assert np.mean(np.asarray(out) != np.asarray(clean)) < 0.005
    assert ssim(out, clean) > 0.985


def test_remove_border_crops_the_flatbed_lid() -> None:
    clean = photo("coffee")
    out = op("remove_border", on_flatbed(clean))
    assert abs(out.width - clean.width) <= 4
    assert abs(out.height - clean.height) <= 4


def test_deskew_levels_a_tilted_print_and_crops_the_lid_corners() -> None:
    clean = photo("astronaut")
    scan = op("remove_border", on_flatbed(clean, angle=3.0))
    assert framing.estimate_skew(grey_array(scan)) == pytest.approx(3.0, abs=0.15)
    out = op("deskew", scan)
    assert out is not scan
    assert abs(framing.estimate_skew(grey_array(out))) < 0.3
    corners = np.asarray(out)[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners.min(axis=1) < 235).any()  # no flatbed white left in the corners


def test_deskew_leaves_a_tiny_tilt_alone() -> None:
    scan = op("remove_border", on_flatbed(photo("camera").convert("RGB"), angle=0.1))
    assert op("deskew", scan) is scan


def test_dust_scratch_repairs_specks_and_touches_little_else() -> None:
    clean = photo("camera")
    a = np.asarray(clean).copy()
    rng = np.random.default_rng(3)
    spots = [(int(rng.integers(10, 500)), int(rng.integers(10, 500))) for _ in range(40)]
    for y, x in spots:
        a[y : y + 2, x : x + 2] = 250 if a[y, x] < 128 else 5
    a[300, 50:300] = 240  # a hairline scratch
    dusty = Image.fromarray(a)
    out = op("dust_scratch", dusty)
    fixed = np.asarray(out)
    remaining = sum(abs(int(fixed[y, x]) - int(np.asarray(clean)[y, x])) > 40 for y, x in spots)
    assert remaining <= 4
    assert np.mean(np.abs(fixed[300, 60:290].astype(int) - np.asarray(clean)[300, 60:290])) < 25
    assert np.mean(fixed != a) < 0.02


def test_dilated_median_erases_a_two_pixel_line() -> None:
    a = np.full((20, 20), 100, np.uint8)
    a[9:11] = 200
    assert specks.dilated_median(a)[9:11].max() == 100


def test_denoise_reduces_grain_and_keeps_edges() -> None:
    clean = photo("astronaut")
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(
        np.clip(np.asarray(clean) + rng.normal(0, 10, (512, 512, 1)), 0, 255).astype(np.uint8)
    )
    out = op("denoise", noisy)
    assert estimate_noise(out) < estimate_noise(noisy) * 0.7
    assert ssim(out, clean) > ssim(noisy, clean) + 0.05


def test_auto_levels_stretches_a_faded_print() -> None:
    clean = photo("camera")
    faded = clean.point(lambda v: 60 + v * 0.5)
    out = op("auto_levels", faded)
    lo, hi = np.percentile(np.asarray(out), [1, 99])
    assert lo < 15
    assert hi > 225


def test_color_balance_removes_yellowing_and_ignores_greyscale() -> None:
    clean = photo("astronaut")
    r, g, b = clean.split()
    yellowed = Image.merge("RGB", (r, g.point(lambda v: v * 0.92), b.point(lambda v: v * 0.7)))
    out = op("color_balance", yellowed)
    means = lambda im: np.asarray(im, np.float32).reshape(-1, 3).mean(axis=0)  # noqa: E731
    assert abs(means(out)[2] - means(clean)[2]) < abs(means(yellowed)[2] - means(clean)[2]) / 2
    grey = photo("camera")
    assert op("color_balance", grey) is grey
    assert op("color_balance", grey.convert("RGB").convert("RGB")) is not None


def test_sharpen_acts_only_on_a_soft_scan() -> None:
    soft = photo("chelsea").filter(ImageFilter.GaussianBlur(1.2))
    out = op("sharpen", soft)
    assert out is not soft
    assert detail.softness(out) > detail.softness(soft)


@pytest.mark.parametrize("name", ["auto_levels", "color_balance", "sharpen", "denoise"])
def test_alpha_is_left_untouched(name: str) -> None:
    rgb = photo("coffee")
    if name == "sharpen":
        rgb = rgb.filter(ImageFilter.GaussianBlur(1.5))
    a = np.asarray(rgb, np.float32) * 0.6 + 50
    a[..., 2] *= 0.75
    if name == "denoise":
        a += np.random.default_rng(1).normal(0, 10, a.shape[:2])[..., None]
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(im.size)
    im.putalpha(alpha)
    out = op(name, im)
    assert out is not im
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_grey_with_alpha_keeps_its_alpha_through_auto_levels() -> None:
    im = photo("camera").point(lambda v: 60 + v * 0.5).convert("LA")
    out = op("auto_levels", im)
    assert out.mode == "LA"
    assert out.getchannel("A").getextrema() == (255, 255)


def test_match_size_restores_the_scan_size_and_skips_when_equal() -> None:
    small = photo("coffee").resize((300, 200))
    ctx = OpContext(original_size=(600, 400))
    assert registry.get("match_size").func(small, ctx).size == (600, 400)
    same = photo("coffee")
    assert registry.get("match_size").func(same, ctx) is same


def test_upscale_doubles_by_default_and_refuses_nonsense() -> None:
    im = photo("chelsea")
    assert op("upscale", im).size == (im.width * 2, im.height * 2)
    assert op("upscale", im, factor=1) is im
    with pytest.raises(ConfigError, match="factor"):
        op("upscale", im, factor=50)


def test_manual_crop_takes_fractions() -> None:
    im = photo("coffee")  # 600×400
    assert op("crop", im, left=0.25, top=0.5, right=0.75, bottom=1.0).size == (300, 200)
    assert op("crop", im) is im
    with pytest.raises(InvalidEdit, match="crop"):
        op("crop", im, left=0.8, right=0.2)


def test_manual_rotate_turns_by_quarters_only() -> None:
    im = photo("coffee")
    assert op("rotate", im, degrees=90).size == (400, 600)
    assert op("rotate", im, degrees=360) is im
    with pytest.raises(InvalidEdit, match="multiple of 90"):
        op("rotate", im, degrees=45)


def test_manual_straighten_crops_to_the_inscribed_rectangle() -> None:
    im = Image.new("RGB", (400, 300), (200, 100, 50))
    out = op("straighten", im, angle=5)
    w, h = inscribed_size(400, 300, 5)
    assert abs(out.width - w) <= 3
    assert abs(out.height - h) <= 3
    assert np.asarray(out).reshape(-1, 3).min(axis=0).tolist() == [200, 100, 50]  # no fill shows
    assert op("straighten", im, angle=0) is im


def test_manual_adjust_changes_what_is_asked() -> None:
    im = photo("astronaut")
    assert op("adjust", im) is im
    brighter = op("adjust", im, brightness=1.3)
    assert np.asarray(brighter).mean() > np.asarray(im).mean()
    grey = op("adjust", im, saturation=0.0)
    a = np.asarray(grey).astype(int)
    assert np.abs(a[..., 0] - a[..., 2]).max() <= 1
    with pytest.raises(InvalidEdit, match="contrast"):
        op("adjust", im, contrast=-1)


def test_every_chain_op_is_registered_and_manual_ones_are_marked() -> None:
    manual = {i.name for i in registry.all_ops() if i.manual}
    assert manual == {"crop", "rotate", "straighten", "adjust", "keep_original", "damage_mask"}
    assert set(AUTOMATIC) | {"auto_orient", "match_size", "upscale"} <= set(registry.names())


def test_deskew_of_a_large_scan_resamples_bilinear_without_losing_detail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A large scan samples the print finer than its detail: modelled by a 2× upsampled photo.
    clean = photo("astronaut")
    big = clean.resize((1024, 1024), Image.Resampling.LANCZOS)
    scan = op("remove_border", on_flatbed(big, angle=3.0))
    bicubic = op("deskew", scan)
    monkeypatch.setattr(framing, "BILINEAR_MIN_PIXELS", 0)
    bilinear = op("deskew", scan)
    assert bilinear.size == bicubic.size
    assert abs(framing.estimate_skew(grey_array(bilinear))) < 0.3
    assert ssim(bilinear, bicubic) > 0.98


def test_parallel_thumbnail_equals_one_reduce() -> None:
    rng = np.random.default_rng(5)
    im = Image.fromarray(rng.integers(0, 256, (2101, 2003, 3), dtype=np.uint8))
    assert im.width * im.height >= PARALLEL_MIN_PIXELS
    for side in (1024, 800, 256):
        factor = -(-max(im.size) // side)
        assert np.array_equal(np.asarray(thumbnail(im, side)), np.asarray(im.reduce(factor)))


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_dust_scratch_returns_a_smooth_clean_image_itself(mode: str) -> None:
    clean = Image.linear_gradient("L").resize((700, 500)).convert(mode)
    assert op("dust_scratch", clean) is clean
