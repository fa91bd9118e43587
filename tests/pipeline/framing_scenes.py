"""Scenes for the framing tests: aged prints full of straight lines, torn corners, and prints
lying tilted on a flat scanner bed (light lid or dark open lid, with JPEG noise)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw
from pipeline_photos import age, photo

LIGHT_BED = (246, 246, 242)
DARK_BED = (18, 18, 20)
FRAME_INSET = 0.08  # the dark frame line drawn inside a print, to measure its angle after


def lined(clean: Image.Image, seed: int = 0) -> Image.Image:
    """An aged print with strong straight lines of its own: a horizon, door frames, long
    scratches and a crack, a little off level, as real pictures and damage are."""
    rng = np.random.default_rng(seed)
    im = age(clean, seed=seed).convert("RGB")
    w, h = im.size
    draw = ImageDraw.Draw(im)
    tilt = math.tan(math.radians(1.5))
    y = h * 0.45
    draw.line([(0, y), (w, y - w * tilt)], fill=(40, 40, 45), width=3)  # a horizon
    for x in (w * 0.2, w * 0.7):  # door frames
        draw.line([(x, h * 0.3), (x + h * 0.7 * tilt, h)], fill=(30, 25, 20), width=5)
    for _ in range(3):  # long thin scratches across the picture
        y0 = float(rng.uniform(0.1, 0.9) * h)
        slope = math.tan(math.radians(float(rng.uniform(-4, 4))))
        draw.line([(0, y0), (w, y0 + w * slope)], fill=(236, 236, 230), width=1)
    points = [(w * 0.1, h * 0.05)]
    for _ in range(12):  # a crack wandering down the print
        x, y = points[-1]
        points.append((x + float(rng.uniform(-0.03, 0.06)) * w, y + h / 12))
    draw.line(points, fill=(235, 232, 225), width=2)
    return im if clean.mode == "RGB" else im.convert(clean.mode)


def torn(clean: Image.Image, corner: str = "top-left", seed: int = 0) -> Image.Image:
    """A photo with a torn-off corner: paper-white, ragged, reaching the edge; no bed around."""
    rng = np.random.default_rng(seed)
    im = clean.convert("RGB")
    w, h = im.size
    n = 14
    reach_x, reach_y = 0.35 * w, 0.45 * h
    tear = [(0.0, 0.0), (reach_x, 0.0)]
    for i in range(1, n):  # the ragged edge from (reach_x, 0) to (0, reach_y)
        t = i / n
        jitter = float(rng.uniform(-0.04, 0.04)) * min(w, h)
        tear.append((reach_x * (1 - t) + jitter, reach_y * t + jitter))
    tear.append((0.0, reach_y))
    if "right" in corner:
        tear = [(w - 1 - x, y) for x, y in tear]
    if "bottom" in corner:
        tear = [(x, h - 1 - y) for x, y in tear]
    ImageDraw.Draw(im).polygon(tear, fill=(238, 234, 222))
    return im


def tower(seed: int = 0) -> Image.Image:
    """A photo of a tall rectangular building against a flat, clear sky, on level ground:
    straight edges between a flat field that reaches the frame and the rest, like a print on a
    bed, but the building stands on the ground, which fills the bottom of the frame."""
    rng = np.random.default_rng(seed)
    w, h = 480, 360
    a = np.empty((h, w, 3), np.float32)
    a[:] = (200, 214, 236)  # the sky
    a[int(0.85 * h) :] = (90, 100, 70)  # the ground, up to the bottom
    a[int(0.15 * h) : int(0.85 * h), int(0.3 * w) : int(0.7 * w)] = (120, 110, 100)  # the tower
    for y in range(int(0.2 * h), int(0.65 * h), 14):  # its windows
        a[y : y + 6, int(0.33 * w) : int(0.67 * w) : 9] = (40, 40, 50)
    a += rng.normal(0, 1.5, (h, w, 1))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def framed_print(name: str) -> Image.Image:
    """A clean photo with a dark frame line inside it, by which its angle is measured."""
    im = photo(name).convert("RGB")
    w, h = im.size
    dx, dy = FRAME_INSET * w, FRAME_INSET * h
    ImageDraw.Draw(im).rectangle([dx, dy, w - dx, h - dy], outline=(10, 10, 10), width=3)
    return im


def on_bed(
    print_: Image.Image,
    angle: float,
    bed: tuple[int, int, int] = LIGHT_BED,
    seed: int = 0,
    margins: tuple[int, int, int, int] = (30, 18, 40, 32),
) -> Image.Image:
    """The print lying on a scanner bed, turned `angle` degrees counter-clockwise, with bed
    `margins` (left, top, right, bottom; negative: the print runs off the scan there), sensor
    noise, and a JPEG round trip."""
    rng = np.random.default_rng(seed)
    turned = print_.convert("RGBA").rotate(angle, Image.Resampling.BICUBIC, expand=True)
    w, h = turned.size
    left, top, right, bottom = margins
    scan = Image.new("RGB", (w + left + right, h + top + bottom), bed)
    scan.paste(turned, (left, top), turned)
    a = np.asarray(scan, np.float32) + rng.normal(0, 2.0, (scan.height, scan.width, 1))
    noisy = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    noisy.save(buf, "JPEG", quality=85)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def frame_angle(image: Image.Image) -> float:
    """The counter-clockwise angle of the print's dark frame line in `image`, in degrees:
    a line fitted to its darkest point, column by column along the top and bottom, row by row
    along the left and right."""
    g = np.asarray(image.convert("L"), np.float32)
    h, w = g.shape
    angles = []
    for grey, length, depth, sign in ((g, w, h, -1.0), (g.T, h, w, 1.0)):
        along = np.arange(int(0.25 * length), int(0.75 * length))
        near, far = int(0.03 * depth), int(0.14 * depth)
        for band in (slice(near, far), slice(depth - far, depth - near)):
            rows = (np.argmin(grey[band, along], axis=0) + band.start).astype(np.float64)
            keep = np.ones(rows.size, bool)
            for _ in range(3):  # the frame line, not the picture's own dark spots
                b, a = np.polyfit(along[keep], rows[keep], 1)
                keep = np.abs(rows - (a + b * along)) <= 2.0
            angles.append(sign * math.degrees(math.atan(b)))
    return float(np.median(angles))
