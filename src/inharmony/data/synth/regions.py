"""Region masks for synthetic composites: segment unions, cut-out shapes and simple shapes.

All functions take a seeded ``numpy.random.Generator`` and return an H×W bool mask whose area
fraction lies in ``area`` (checked by :func:`random_region`, which retries and falls back).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage.segmentation import felzenszwalb


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def segment_region(image: np.ndarray, rng: np.random.Generator, target: float, work_side: int = 192) -> np.ndarray:
    """Grow a connected union of Felzenszwalb segments up to about ``target`` of the image area (segmented with
    the long side at ``work_side`` pixels)."""
    h, w = image.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    small = np.asarray(Image.fromarray(image).resize((max(8, round(w * scale)), max(8, round(h * scale)))))
    labels = felzenszwalb(small, scale=float(rng.uniform(80, 400)), sigma=0.8, min_size=int(small.size / 3 / 400) + 5)
    n = int(labels.max()) + 1
    areas = np.bincount(labels.ravel(), minlength=n) / labels.size
    pairs = np.concatenate(
        [
            np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
            np.stack([labels[:-1].ravel(), labels[1:].ravel()], 1),
        ]
    )
    pairs = np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in pairs:
        neighbours[a].add(int(b))
        neighbours[b].add(int(a))
    candidates = np.flatnonzero(areas < target)
    if candidates.size == 0:
        return np.zeros((h, w), bool)
    chosen = {int(rng.choice(candidates))}
    total = areas[list(chosen)].sum()
    while total < target:
        frontier = sorted(set().union(*(neighbours[c] for c in chosen)) - chosen)
        frontier = [f for f in frontier if total + areas[f] <= target * 1.3]
        if not frontier:
            break
        pick = int(rng.choice(frontier))
        chosen.add(pick)
        total += areas[pick]
    small_mask = ndimage.binary_fill_holes(np.isin(labels, list(chosen)))
    return np.asarray(Image.fromarray(small_mask.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)) > 127


def shape_region(h: int, w: int, rng: np.random.Generator, target: float) -> np.ndarray:
    """An ellipse or a random star-shaped polygon of about ``target`` of the image area."""
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.25, 0.75) * w
    radius = np.sqrt(target * h * w / np.pi)
    if rng.random() < 0.5:
        aspect = rng.uniform(0.6, 1.6)
        ry, rx = radius * aspect**0.5, radius / aspect**0.5
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    else:
        k = int(rng.integers(5, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = radius * rng.uniform(0.7, 1.3, k) * 1.15
        draw.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for a, r in zip(angles, radii)], fill=255)
    return np.asarray(canvas) > 127


def place_cutout(
    alpha: np.ndarray, h: int, w: int, rng: np.random.Generator, target: float
) -> tuple[np.ndarray, tuple]:
    """Scale a cut-out's alpha so its opaque area is about ``target``; return (H×W alpha, placement)."""
    ah, aw = alpha.shape
    opaque = max(float((alpha > 0.5).mean()), 1e-3)
    scale = np.sqrt(target * h * w / (opaque * ah * aw))
    nh, nw = max(2, min(h, round(ah * scale))), max(2, min(w, round(aw * scale)))
    resized = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).resize((nw, nh), Image.BILINEAR)) / 255.0
    top, left = int(rng.integers(0, h - nh + 1)), int(rng.integers(0, w - nw + 1))
    full = np.zeros((h, w), np.float32)
    full[top : top + nh, left : left + nw] = resized
    return full, (top, left, nh, nw)


def random_region(
    image: np.ndarray,
    rng: np.random.Generator,
    area: tuple[float, float] = (0.01, 0.5),
    cutout_alphas: list[np.ndarray] | None = None,
    tries: int = 6,
) -> tuple[np.ndarray, str]:
    """A bool region mask with area fraction within ``area`` and the method that made it."""
    h, w = image.shape[:2]
    methods = ["segments", "segments", "shape"] + (["cutout"] if cutout_alphas else [])
    for _ in range(tries):
        target = _log_uniform(rng, max(area[0] * 1.5, 1e-3), area[1] * 0.8)
        method = methods[int(rng.integers(len(methods)))]
        if method == "segments":
            mask = segment_region(image, rng, target)
        elif method == "cutout":
            alpha = cutout_alphas[int(rng.integers(len(cutout_alphas)))]
            mask = place_cutout(alpha, h, w, rng, target)[0] > 0.5
        else:
            mask = shape_region(h, w, rng, target)
        if area[0] <= mask.mean() <= area[1]:
            return mask, method
    mask = shape_region(h, w, rng, float(np.mean(area)) * 0.5)
    return mask, "shape"


def feather(mask: np.ndarray, rng: np.random.Generator, max_sigma: float = 2.5) -> np.ndarray:
    """Soft alpha from a bool mask: hard edges half of the time, else a small Gaussian feather."""
    alpha = mask.astype(np.float32)
    if rng.random() < 0.5:
        return alpha
    return np.clip(ndimage.gaussian_filter(alpha, sigma=float(rng.uniform(0.5, max_sigma))), 0.0, 1.0)


def annotator_outline(
    mask: np.ndarray, rng: np.random.Generator, tolerance: tuple[float, float] = (0.003, 0.015), jitter: float = 0.003
) -> np.ndarray:
    """The region as an annotator would click it: each connected part's outer boundary simplified to a polygon
    (Douglas–Peucker, tolerance drawn from ``tolerance`` × the long side), its vertices jittered by
    ``jitter`` × the long side, holes filled. Real composites are made with such masks (iHarmony4's HCOCO regions
    are COCO's polygons, the other subsets' were drawn by hand), so a change applied through one spills onto
    slivers of background and misses bits of the object: the seams a detector can learn."""
    from skimage.measure import approximate_polygon, find_contours

    h, w = mask.shape
    side = max(h, w)
    tol = float(rng.uniform(*tolerance)) * side
    labels, n = ndimage.label(mask)
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for part, box in enumerate(ndimage.find_objects(labels), start=1):
        piece = labels[box] == part
        if piece.sum() < 4:  # a speck no annotator would click
            continue
        contours = find_contours(np.pad(piece, 1).astype(np.float32), 0.5)
        if not contours:
            continue
        offset = np.array([box[0].start - 1.0, box[1].start - 1.0])  # padding removed, back to image rows/cols
        outline = approximate_polygon(max(contours, key=len), tol) + offset
        outline = outline + rng.normal(0.0, jitter * side, outline.shape)
        if len(outline) >= 3:
            draw.polygon([(float(x), float(y)) for y, x in outline], fill=255)
    return np.asarray(canvas) > 127
