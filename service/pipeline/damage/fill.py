"""Filling a damage mask from its surroundings, region by region, leaving every other pixel as
it was (bit for bit).

Damage comes in two shapes that want different repairs:

- *lines* (cracks, scratches, hairs, creases; no wider than 2·THIN_RADIUS + 1 px) are rebuilt
  by `cv2.inpaint` from their two banks. Navier–Stokes scored a little better than Telea on
  every picture we laid cracks and scratches over (removal 0.913 against 0.907, no picture
  worse; `bench/fill_quality.py`), at the same speed. Over a regular texture (a weave) the
  inpaint draws a smooth ribbon through the threads; where the texture around a tile repeats
  (`periodic`), a line's pixels are copied from a period away instead;
- *holes* (a torn corner, a missing patch: what a disk of THIN_RADIUS still fits into, of at
  least MIN_TEXTURED pixels) get diffused structure (`structure`) plus quilted texture
  (`texture`), so the grain of the print goes on across them, not a smooth patch. Texture
  that is not the lost one costs a little removal (0.77 against Navier–Stokes' 0.79 on holes):
  the price of a repair that does not show as a smooth blot (grain kept 0.6–1.0, not 0.1–0.3).

A 600-dpi scan is 45 megapixels: the mask is read in TILE-sized pieces, only where it has
damage (a box-reduced copy says where), and each piece is inpainted in a padded crop and pasted
back. Holes come first, each in one crop with room for texture sources around it; lines after,
so a crack that runs into a filled hole is rebuilt from the filled hole, not from the paper.
At no time is more than the result, the scan (unless `in_place`) and a few crops alive.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
from PIL import Image

from service.pipeline import memory
from service.pipeline.damage import blocks, periodic, texture
from service.pipeline.parallel import ordered_map

THIN_RADIUS = 4  # px: a disk this size fits into a hole, never into a line (≤ 9 px wide)
TILE = 512  # px: the lines are filled tile by tile
CELL = 16  # px: the grid on which the mask is first looked at (and holes are grouped)
LINE_MARGIN = 2 * THIN_RADIUS + 16  # px of context around a tile: the opening and the inpaint
MIN_TEXTURED = 1024  # hole pixels: a smaller hole is filled like a line
HOLE_PIECE = 1024  # px: a larger hole is filled in pieces this size (each crop stays small)
HOLE_PAD_MIN = 96  # px around a hole, for texture sources and the structure's context
HOLE_PAD_MAX = 384
INPAINT_RADIUS = 3
MODES = {"RGB": 3, "RGBA": 3, "L": 1, "LA": 1, "I;16": 1, "I;16L": 1, "I;16B": 1, "F": 1}

Box = tuple[int, int, int, int]


def fill(image: Image.Image, mask: Image.Image, *, in_place: bool = False) -> Image.Image:
    """`image` with the pixels under `mask` ('L', ≥ 128 = damaged) rebuilt from around them;
    alpha stays as it was. The very same object when the mask is empty; when `in_place` (the
    caller's promise that nothing else reads `image`), the repair is written into it."""
    if image.mode not in MODES:
        raise ValueError(f"cannot fill a {image.mode} image (use RGB, RGBA, L, LA or 16-bit grey)")
    if mask.size != image.size:
        raise ValueError(f"mask {mask.size} does not match the image {image.size}")
    m = mask if mask.mode == "L" else mask.convert("L")
    cells = _cells(m)
    if not cells.any():
        return image
    out = image if in_place and not image.readonly else image.copy()
    boxes, textured = _hole_boxes(_hole_cells(m, cells), image.size)
    for box in boxes:
        pieces: list[Box] = []
        for piece in _hole_pieces(box, textured):
            _fill_hole(out, m, piece, pieces)
            pieces.append(piece)
    if boxes:
        memory.release_memory()  # the holes' crops, before the line tiles' peak
    tiles = _tiles(cells, image.size)
    for done in ordered_map(lambda box: _fill_lines(out, m, box, textured), tiles):
        if done is not None:
            out.paste(done[1], done[0][:2])
    return out


def _cells(m: Image.Image) -> np.ndarray:
    """Which CELL×CELL cells hold a damaged pixel (bool grid, rounded up at the far edges)."""
    # A cell's box mean is at least 128/256 when one of its pixels is ≥ 128: it rounds to ≥ 1.
    out: np.ndarray = np.asarray(m.reduce(CELL)) > 0
    return out


def _tiles(cells: np.ndarray, size: tuple[int, int]) -> Iterator[Box]:
    """For each TILE that has damage in it, the box of its damaged cells: dust spread over a
    scan touches every tile, and a speck needs a crop of a few dozen pixels, not of a tile."""
    w, h = size
    step = TILE // CELL
    for ty in range(0, cells.shape[0], step):
        for tx in range(0, cells.shape[1], step):
            tile = cells[ty : ty + step, tx : tx + step]
            if not tile.any():
                continue
            rows, cols = np.flatnonzero(tile.any(axis=1)), np.flatnonzero(tile.any(axis=0))
            y0, x0 = (ty + int(rows[0])) * CELL, (tx + int(cols[0])) * CELL
            y1, x1 = (ty + int(rows[-1]) + 1) * CELL, (tx + int(cols[-1]) + 1) * CELL
            yield x0, y0, min(w, x1), min(h, y1)


def _read_mask(m: Image.Image, box: Box, margin: int) -> tuple[np.ndarray, Box]:
    """The mask (bool) over `box` grown by `margin` (within the picture), and that box."""
    x0, y0, x1, y1 = box
    big = (
        max(0, x0 - margin),
        max(0, y0 - margin),
        min(m.width, x1 + margin),
        min(m.height, y1 + margin),
    )
    return np.asarray(m.crop(big)) >= 128, big


def _within(shape: tuple[int, ...], box: Box, big: Box) -> np.ndarray:
    """True over `box` inside the crop `big` (of `shape`)."""
    out = np.zeros(shape[:2], bool)
    out[box[1] - big[1] : box[3] - big[1], box[0] - big[0] : box[2] - big[0]] = True
    return out


def _disk(radius: int) -> np.ndarray:
    out: np.ndarray = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    return out


def holes_of(damaged: np.ndarray) -> np.ndarray:
    """The part of a damage mask that is hole, not line: where a disk of THIN_RADIUS fits,
    grown back to the hole's outline (a morphological opening). Edges of the picture do not
    erode it, so a torn corner stays a hole up to the very corner."""
    u8 = damaged.astype(np.uint8)
    core = cv2.erode(u8, _disk(THIN_RADIUS), borderType=cv2.BORDER_REPLICATE)
    if not core.any():
        return np.zeros_like(damaged)
    out: np.ndarray = cv2.dilate(core, _disk(THIN_RADIUS)).astype(bool) & damaged
    return out


def _hole_cells(m: Image.Image, cells: np.ndarray) -> np.ndarray:
    """How many hole pixels each cell holds (the opening, tile by tile with enough margin to be
    exact)."""
    out = np.zeros(cells.shape, np.int32)
    for box in _tiles(cells, m.size):
        damaged, big = _read_mask(m, box, 2 * THIN_RADIUS + 2)
        hole = holes_of(damaged)
        if not hole.any():
            continue
        ox, oy = box[0] - big[0], box[1] - big[1]
        core = hole[oy : oy + box[3] - box[1], ox : ox + box[2] - box[0]]
        ch, cw = -(-core.shape[0] // CELL), -(-core.shape[1] // CELL)
        padded = np.zeros((ch * CELL, cw * CELL), bool)
        padded[: core.shape[0], : core.shape[1]] = core
        grid = padded.reshape(ch, CELL, cw, CELL).sum(axis=(1, 3))
        out[box[1] // CELL : box[1] // CELL + ch, box[0] // CELL : box[0] // CELL + cw] += grid
    return out


def _hole_boxes(counts: np.ndarray, size: tuple[int, int]) -> tuple[list[Box], np.ndarray]:
    """One box (in pixels) per group of touching hole cells that holds at least MIN_TEXTURED
    hole pixels, and the cells of those groups. Smaller holes (a crack's crossing, a fleck)
    are left to the line fill: texture does not show on them, the fixed cost would."""
    textured = np.zeros(counts.shape, bool)
    if not counts.any():
        return [], textured
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        (counts > 0).astype(np.uint8), connectivity=8
    )
    pixels = np.bincount(labels.ravel(), weights=counts.ravel(), minlength=n)
    w, h = size
    boxes = []
    for i in range(1, n):
        if pixels[i] < MIN_TEXTURED:
            continue
        x, y, bw, bh, _ = (int(v) for v in stats[i])
        textured |= labels == i
        boxes.append((x * CELL, y * CELL, min(w, (x + bw) * CELL), min(h, (y + bh) * CELL)))
    return boxes, textured


def _on_cells(grid: np.ndarray, big: Box) -> np.ndarray:
    """The cell grid `grid` drawn at full size over the crop `big`."""
    return blocks.at_scan_size(grid, CELL, big)


def _bands(arr: np.ndarray, mode: str) -> np.ndarray:
    """The bands to inpaint, native byte order, H×W×C (alpha left out)."""
    colour = arr[..., : MODES[mode]] if arr.ndim == 3 else arr[..., None]
    return np.ascontiguousarray(colour.astype(colour.dtype.newbyteorder("="), copy=False))


def _patch(
    mode: str, arr: np.ndarray, values: np.ndarray, where: np.ndarray, box: Box, big: Box
) -> tuple[Box, Image.Image]:
    """`arr` (the crop `big` as read) with `values` (H×W×C bands) put in where `where`, cut to
    `box`: every other pixel goes back as it was read. Only `box` is pasted, so crops that
    overlap in their margins never write over each other's repair."""
    n = MODES[mode]
    if arr.ndim == 3:
        arr[..., :n][where] = values[where].astype(arr.dtype)
    else:
        arr[where] = values[where][:, 0].astype(arr.dtype)
    x0, y0 = box[0] - big[0], box[1] - big[1]
    part = np.ascontiguousarray(arr[y0 : y0 + box[3] - box[1], x0 : x0 + box[2] - box[0]])
    return box, Image.frombytes(mode, (box[2] - box[0], box[3] - box[1]), part.tobytes())


def _hole_pieces(box: Box, textured: np.ndarray) -> list[Box]:
    """`box` cut into pieces of at most HOLE_PIECE a side, those nearest the hole's rim first
    (so each piece has picture or filled pieces round it to start from)."""
    x0, y0, x1, y1 = box
    if x1 - x0 <= HOLE_PIECE and y1 - y0 <= HOLE_PIECE:
        return [box]
    rim = cv2.distanceTransform(textured.astype(np.uint8), cv2.DIST_L2, 3)
    order = []
    for py in range(y0, y1, HOLE_PIECE):
        for px in range(x0, x1, HOLE_PIECE):
            piece = (px, py, min(x1, px + HOLE_PIECE), min(y1, py + HOLE_PIECE))
            cells = (
                slice(py // CELL, -(-piece[3] // CELL)),
                slice(px // CELL, -(-piece[2] // CELL)),
            )
            inside = textured[cells]
            if inside.any():
                order.append((float(rim[cells][inside].min()), piece))
    order.sort()
    return [piece for _, piece in order]


def _fill_hole(out: Image.Image, m: Image.Image, box: Box, done: list[Box]) -> None:
    """Fill the holes inside `box` with texture, in a crop padded for sources around it; the
    holes of the pieces in `done` are filled already and count as picture."""
    extent = max(box[2] - box[0], box[3] - box[1])
    pad = min(HOLE_PAD_MAX, max(HOLE_PAD_MIN, extent // 2))
    damaged, big = _read_mask(m, box, pad)
    holes = holes_of(damaged)
    hole = holes & _within(damaged.shape, box, big)
    if not hole.any():
        return
    for piece in done:
        damaged &= ~(holes & _within(damaged.shape, _clip(piece, big), big))
    arr = np.array(out.crop(big))
    seed = (box[0] * 7919 + box[1]) % (2**32)  # the same scan gives the same repair
    values = texture.fill_hole(_bands(arr, out.mode), hole, damaged, seed=seed)
    at, patch = _patch(out.mode, arr, values.reshape(*hole.shape, -1), hole, box, big)
    out.paste(patch, at[:2])


def _clip(box: Box, to: Box) -> Box:
    """`box` cut to `to` (empty when they do not meet)."""
    x0, y0 = max(box[0], to[0]), max(box[1], to[1])
    return x0, y0, max(x0, min(box[2], to[2])), max(y0, min(box[3], to[3]))


def _fill_lines(
    out: Image.Image, m: Image.Image, box: Box, textured: np.ndarray
) -> tuple[Box, Image.Image] | None:
    """The repaired tile, or None: the damage in it inpainted but for the holes filled with
    texture already. Tiles do not depend on each other (the damage in a tile's margin is
    inpainted again, never read), so they run on the strip workers side by side."""
    damaged, big = _read_mask(m, box, LINE_MARGIN)
    lines = damaged
    if textured.any():
        lines = damaged & ~(holes_of(damaged) & _on_cells(textured, big))
    core = _within(damaged.shape, box, big)
    if not (lines & core).any():
        return None
    arr = np.array(out.crop(big))
    bands = _bands(arr, out.mode)
    mask = lines.astype(np.uint8)
    if bands.shape[2] == 1 or bands.dtype == np.uint8:
        filled = cv2.inpaint(bands, mask, INPAINT_RADIUS, cv2.INPAINT_NS).reshape(bands.shape)
    else:
        filled = np.stack(
            [cv2.inpaint(bands[..., c], mask, INPAINT_RADIUS, cv2.INPAINT_NS) for c in range(3)],
            axis=-1,
        )
    found = _repeats(out, m, big, bands, damaged)
    filled = periodic.rebuilt(bands, filled, lines & core, ~damaged, found)
    return _patch(out.mode, arr, filled, lines & core, box, big)


def _repeats(
    out: Image.Image, m: Image.Image, big: Box, bands: np.ndarray, damaged: np.ndarray
) -> list[tuple[float, float]]:
    """The shifts under which the texture around the crop `big` repeats (`periodic`), measured
    on a `periodic.WINDOW` square at its centre (read afresh when the crop is smaller: a few
    specks)."""
    side = periodic.WINDOW
    cx, cy = (big[0] + big[2]) // 2, (big[1] + big[3]) // 2
    x0 = min(max(0, cx - side // 2), max(0, out.width - side))
    y0 = min(max(0, cy - side // 2), max(0, out.height - side))
    window = (x0, y0, min(out.width, x0 + side), min(out.height, y0 + side))
    if window[0] >= big[0] and window[1] >= big[1] and window[2] <= big[2] and window[3] <= big[3]:
        part = (slice(window[1] - big[1], window[3] - big[1]),
                slice(window[0] - big[0], window[2] - big[0]))  # fmt: skip
        bands, damaged = bands[part], damaged[part]
    else:
        damaged = np.asarray(m.crop(window)) >= 128
        bands = _bands(np.array(out.crop(window)), out.mode)
    grey = bands[..., 0] if bands.shape[2] == 1 else bands.mean(axis=2, dtype=np.float32)
    return periodic.shifts(grey.astype(np.float32), ~damaged)
