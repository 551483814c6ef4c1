"""Pictures people look at: overlays, heatmaps and labelled grids (PIL + numpy only)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def heatmap(prob: np.ndarray) -> np.ndarray:
    """H×W probabilities in [0, 1] → H×W×3 uint8 colour map (dark blue → red → yellow)."""
    p = np.clip(prob, 0, 1)[..., None]
    stops = np.array([[0.05, 0.05, 0.3], [0.2, 0.3, 0.9], [0.9, 0.2, 0.2], [1.0, 0.95, 0.3]])
    pos = p * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = pos - lo
    rgb = stops[lo[..., 0]] * (1 - frac) + stops[lo[..., 0] + 1] * frac
    return (rgb * 255).astype(np.uint8)


def overlay(image: np.ndarray, prob: np.ndarray, threshold: float = 0.5, colour=(255, 40, 40)) -> np.ndarray:
    """Tint the pixels with ``prob > threshold`` and draw nothing else; image H×W×3 uint8."""
    out = image.astype(np.float32).copy()
    sel = prob > threshold
    out[sel] = 0.45 * out[sel] + 0.55 * np.array(colour, np.float32)
    return out.astype(np.uint8)


def as_rgb(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        if array.dtype != np.uint8:
            array = (np.clip(array, 0, 1) * 255).astype(np.uint8)
        return np.repeat(array[..., None], 3, axis=-1)
    return array


def grid(rows: list[list[np.ndarray]], labels: list[str] | None = None, cell: int = 192, pad: int = 4) -> Image.Image:
    """Tile images (H×W×3 uint8 or H×W masks/probabilities) into a grid with optional column labels."""
    ncols = max(len(r) for r in rows)
    top = 18 if labels else 0
    canvas = Image.new("RGB", (ncols * (cell + pad) + pad, top + len(rows) * (cell + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for j, label in enumerate(labels or []):
        draw.text((pad + j * (cell + pad) + 4, 3), label, fill=(0, 0, 0))
    for i, row in enumerate(rows):
        for j, arr in enumerate(row):
            tile = Image.fromarray(as_rgb(arr)).resize((cell, cell), Image.BILINEAR)
            canvas.paste(tile, (pad + j * (cell + pad), top + pad + i * (cell + pad)))
    return canvas
