"""Damage laid over clean pictures, with the truth of where it is, for scoring the repair.

Each maker paints one kind of damage the way it looks on an aged print — soft-edged, not a
one-pixel stamp — into a float copy of the picture and returns where it changed the picture.
`damage` lays a mix of them; `removal` and `ssim_outside` score a repair against the clean
picture. The pictures and scores are shared by the tests and `bench/damage_scores.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from tests.pipeline.pipeline_photos import photo

PAPER = np.array([244.0, 239.0, 226.0])  # the print's paper base, where the emulsion is gone
VISIBLE = 4.0  # grey levels: a change smaller than this is not damage anyone sees


@dataclass(frozen=True)
class Damaged:
    """A damaged picture and the truth: where the damage is (True = damaged)."""

    image: Image.Image
    mask: np.ndarray


def _paint(a: np.ndarray, alpha: np.ndarray, colour: np.ndarray | float) -> None:
    """Blend `colour` into `a` (H×W×C float) with coverage `alpha` (H×W in 0..1)."""
    a *= 1.0 - alpha[..., None]
    a += alpha[..., None] * np.broadcast_to(colour, (a.shape[2],))


def _stroke(shape: tuple[int, int], paths: list[np.ndarray], width: float) -> np.ndarray:
    """Coverage of anti-aliased polylines drawn `width` wide, softened like a scanned edge."""
    scale = 4  # draw at 4× and reduce: sub-pixel widths and positions
    h, w = shape
    big = np.zeros((h * scale, w * scale), np.uint8)
    for p in paths:
        pts = np.rint(p * scale).astype(np.int32).reshape(-1, 1, 2)
        thick = max(1, round(width * scale))
        cv2.polylines(big, [pts], False, 255, thick, cv2.LINE_AA)
    cover = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return cv2.GaussianBlur(cover, (0, 0), 0.6)


def _walk(
    rng: np.random.Generator, start: np.ndarray, angle: float, n: int, step: float
) -> np.ndarray:
    """A jagged path: a crack changes direction a little at every step."""
    pts = [start]
    for _ in range(n):
        angle += rng.normal(0, 0.35)
        pts.append(pts[-1] + step * np.array([math.cos(angle), math.sin(angle)]))
    return np.array(pts)


def crack_paths(rng: np.random.Generator, shape: tuple[int, int]) -> list[np.ndarray]:
    """A branching crack: a jagged trunk across a good part of the picture, with side branches."""
    h, w = shape
    start = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h])
    angle = rng.uniform(0, 2 * math.pi)
    trunk = _walk(rng, start, angle, int(rng.integers(25, 45)), min(h, w) / 60)
    paths = [trunk]
    for _ in range(int(rng.integers(2, 5))):
        at = trunk[int(rng.integers(3, len(trunk) - 3))]
        side = angle + rng.choice([-1, 1]) * rng.uniform(0.6, 1.3)
        paths.append(_walk(rng, at, side, int(rng.integers(6, 16)), min(h, w) / 70))
    return paths  # a crack may run off the print; cv2 clips what it draws


def add_crack(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A branching crack where the paper base shows (bright), 1–3 pixels wide."""
    cover = _stroke(a.shape[:2], crack_paths(rng, a.shape[:2]), rng.uniform(1.0, 3.0))
    _paint(a, cover, PAPER[: a.shape[2]] if a.shape[2] == 3 else PAPER.mean())
    return cover


def add_scratch(a: np.ndarray, rng: np.random.Generator, *, bright: bool) -> np.ndarray:
    """A long thin scratch, nearly straight and slightly bowed, bright or dark."""
    h, w = a.shape[:2]
    angle = rng.uniform(0, math.pi)
    length = rng.uniform(0.5, 0.9) * math.hypot(h, w)
    centre = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h])
    d = np.array([math.cos(angle), math.sin(angle)])
    t = np.linspace(-0.5, 0.5, 60)[:, None]
    bow = rng.uniform(-0.03, 0.03) * length * (1 - (2 * t) ** 2)
    path = centre + t * length * d + bow * np.array([-d[1], d[0]])
    cover = _stroke(a.shape[:2], [path], rng.uniform(1.0, 2.0))
    colour = rng.uniform(228, 250) if bright else rng.uniform(15, 40)
    _paint(a, cover * rng.uniform(0.8, 1.0), colour)
    return cover


def add_crease(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fold line across the whole print: a wide, low-contrast ridge, lit on one side."""
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    n = np.array([-math.sin(angle), math.cos(angle)])
    c = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h])
    dist = (xx - c[0]) * n[0] + (yy - c[1]) * n[1]
    along = (xx - c[0]) * n[1] - (yy - c[1]) * n[0]
    dist += rng.uniform(-0.015, 0.015) * along**2 / max(h, w)  # paper folds nearly straight
    half = rng.uniform(2.0, 3.5)
    ridge = rng.uniform(35, 55) * np.exp(-((dist + half / 2) ** 2) / (2 * (half / 2) ** 2))
    shadow = rng.uniform(25, 40) * np.exp(-((dist - half / 2) ** 2) / (2 * (half / 2) ** 2))
    delta = ridge - shadow
    a += delta[..., None]
    np.clip(a, 0, 255, out=a)
    return np.abs(delta) / 30.0


def add_dust(a: np.ndarray, rng: np.random.Generator, count: int = 30) -> np.ndarray:
    """Specks of dust or mould, one to four pixels across, most of them light."""
    h, w = a.shape[:2]
    cover = np.zeros((h, w), np.float32)
    for _ in range(count):
        y, x = rng.uniform(4, h - 4), rng.uniform(4, w - 4)
        r = rng.uniform(0.6, 2.2)
        one = np.zeros((h, w), np.float32)
        cv2.circle(one, (round(x * 4), round(y * 4)), round(r * 4), 1.0, -1, cv2.LINE_AA, 2)
        one = cv2.GaussianBlur(one, (0, 0), 0.5)
        _paint(a, one, rng.uniform(225, 250) if rng.random() < 0.7 else rng.uniform(15, 40))
        cover = np.maximum(cover, one)
    return cover


def add_torn_corner(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A torn-off corner: bare paper reaching two edges, bounded by a ragged tear."""
    h, w = a.shape[:2]
    size = rng.uniform(0.15, 0.3) * min(h, w)
    n = 40
    t = np.linspace(0, 1, n)
    edge = size * (1 + np.cumsum(rng.normal(0, 0.03, n)))
    jag = rng.normal(0, size * 0.02, n)
    pts = np.stack([(1 - t) * edge + jag, t * edge + jag], axis=1)  # from one edge to the other
    poly = np.concatenate([[[0.0, 0.0]], pts])
    corner = int(rng.integers(4))
    flip_x, flip_y = corner & 1, corner >> 1
    poly[:, 0] = w - 1 - poly[:, 0] if flip_x else poly[:, 0]
    poly[:, 1] = h - 1 - poly[:, 1] if flip_y else poly[:, 1]
    region = np.zeros((h, w), np.uint8)
    cv2.fillPoly(region, [np.rint(poly).astype(np.int32)], 255, cv2.LINE_AA)
    cover = cv2.GaussianBlur(region.astype(np.float32) / 255, (0, 0), 0.7)
    paper = PAPER[: a.shape[2]] if a.shape[2] == 3 else PAPER.mean()
    _paint(a, cover, paper + rng.normal(0, 2, a.shape[2]))
    return cover


def _kinds(a: np.ndarray, rng: np.random.Generator, kinds: tuple[str, ...]) -> np.ndarray:
    cover = np.zeros(a.shape[:2], np.float32)
    for kind in kinds:
        if kind == "crack":
            one = add_crack(a, rng)
        elif kind in ("scratch", "dark_scratch"):
            one = add_scratch(a, rng, bright=kind == "scratch")
        elif kind == "crease":
            one = add_crease(a, rng)
        elif kind == "dust":
            one = add_dust(a, rng)
        elif kind == "torn_corner":
            one = add_torn_corner(a, rng)
        else:
            raise ValueError(kind)
        cover = np.maximum(cover, one)
    return cover


MIX = ("crease", "crack", "crack", "scratch", "dark_scratch", "dust")


def damage(clean: Image.Image, seed: int, kinds: tuple[str, ...] = MIX) -> Damaged:
    """`clean` with the `kinds` of damage laid over it; the truth is every pixel the damage
    changed visibly."""
    rng = np.random.default_rng(seed)
    src = np.asarray(clean, np.float32)
    a = src[..., None].copy() if src.ndim == 2 else src.copy()
    _kinds(a, rng, kinds)
    out = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    out = out[..., 0] if src.ndim == 2 else out
    diff = np.abs(out.astype(np.float32) - src)
    truth = (diff.max(axis=2) if diff.ndim == 3 else diff) >= VISIBLE
    return Damaged(Image.fromarray(out, clean.mode), truth)


def removal(clean: Image.Image, damaged: Damaged, repaired: Image.Image) -> float:
    """1 − (error to the clean picture inside the damage, after) / (the damaged input's)."""
    c = np.asarray(clean, np.float32)
    before = np.abs(np.asarray(damaged.image, np.float32) - c)[damaged.mask].mean()
    after = np.abs(np.asarray(repaired, np.float32) - c)[damaged.mask].mean()
    return float(1.0 - after / before)


def ssim_outside(clean: Image.Image, damaged: Damaged, repaired: Image.Image) -> float:
    """Mean SSIM between the repair and the clean picture away from the damage (the 7-pixel
    SSIM window around a damaged pixel sees the damage, so those pixels are left out)."""
    from skimage.metrics import structural_similarity

    x, y = np.asarray(repaired), np.asarray(clean)
    _, full = structural_similarity(
        x, y, channel_axis=2 if x.ndim == 3 else None, data_range=255, full=True
    )
    smap = full.mean(axis=2) if full.ndim == 3 else full
    near = cv2.dilate(damaged.mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    return float(smap[~near].mean())


def _fabric() -> np.ndarray:
    """A fine woven cloth: threads a few pixels apart, lit and shaded, over a colour."""
    yy, xx = np.mgrid[0:384, 0:512].astype(np.float32)
    warp = np.sin(xx * 2 * np.pi / 4.0 + 0.6 * np.sin(yy / 23))
    weft = np.sin(yy * 2 * np.pi / 5.0 + 0.6 * np.sin(xx / 31))
    shade = 0.75 + 0.25 * np.cos(xx / 90) * np.cos(yy / 70)
    grey = (120 + 45 * np.where((xx // 4 + yy // 5) % 2 == 0, warp, weft)) * shade
    return np.clip(np.stack([grey * 0.9, grey * 0.75, grey * 1.05], axis=2), 0, 255)


def picture(name: str) -> Image.Image:
    """A clean picture by name: scikit-image's photographs, or the woven `fabric`."""
    if name == "fabric":
        return Image.fromarray(np.rint(_fabric()).astype(np.uint8), "RGB")
    return photo(name)


# A face (catch-lights, hair), a cat (whiskers), a texture, a grey photo with a tripod, lattice
# towers and lamp flares (thin lines that are picture), a page of print, and fine cloth.
PICTURES = ("astronaut", "chelsea", "brick", "grass", "camera", "rocket", "page", "fabric")


def mask_scores(truth: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Precision and recall of a detected mask against the truth (a pixel within two of a
    damaged one counts as a hit for precision: the rim of a crack is fair to cover)."""
    near = cv2.dilate(truth.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    found = mask > 0
    precision = float((found & near).sum() / max(1, found.sum()))
    recall = float((found & truth).sum() / max(1, truth.sum()))
    return precision, recall
