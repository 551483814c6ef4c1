"""Evaluation sets beyond the published protocol: authentic photos and the region-swap probe.

- *Authentic photos*: photos with no edit (empty masks). A localiser should mark nothing on them; the published
  protocol cannot see a confident mask there (it min-max normalises every prediction), so these are scored by
  predicted area, maximum probability and the image-level score.
- *Region swap*: from authentic photos, a region that is **not** the salient object (a segment away from the
  image centre: background, part of a surface, one of several objects) gets a colour change written here, on
  purpose independently of the training generator (a chroma rotation and luminance curve in YCbCr). A
  salient-object detector scores low on it. Each swap composite comes with its unchanged photo.

Every set is a list of :class:`EvalItem` (image in memory or on disk, mask or None for authentic).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.segmentation import slic

from inharmony.data.synth.composer import jpeg, mean_delta_e
from inharmony.data.synth.photos import index_photos, load_photo, load_segments

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field")


@dataclass
class EvalItem:
    """One image to evaluate: ``image`` (H×W×3 uint8) or ``path``; ``mask`` (H×W uint8) or ``mask_path``, or
    neither for an authentic photo; ``group`` is the reporting group inside its set."""

    name: str
    group: str
    image: np.ndarray | None = None
    path: Path | None = None
    mask: np.ndarray | None = None
    mask_path: Path | None = None

    @property
    def authentic(self) -> bool:
        return self.mask is None and self.mask_path is None


def authentic_folder(folder: str | Path, held_out_only: bool = False, group: str = "authentic") -> list[EvalItem]:
    """Authentic photos of a folder (with ``held_out_only``: only its test-split photos, which never train)."""
    photos, _ = index_photos(folder)
    chosen = [p for p in photos if p.split == "test"] if held_out_only else photos
    return [EvalItem(f"{group}/{p.path.stem}", group, path=p.path) for p in chosen]


def skimage_photos(group: str = "skimage") -> list[EvalItem]:
    """scikit-image's bundled colour photos (not in the training corpus); those needing a download are skipped."""
    from skimage import data

    items = []
    for name in SKIMAGE_PHOTOS:
        try:
            image = getattr(data, name)()
        except Exception:  # noqa: BLE001 - some images are fetched on demand, which fails offline
            continue
        if image.ndim == 3 and image.shape[-1] >= 3:
            items.append(EvalItem(f"{group}/{name}", group, image=np.ascontiguousarray(image[..., :3])))
    return items


def _ycc(rgb: np.ndarray) -> np.ndarray:
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    return rgb @ m.T


def _rgb(ycc: np.ndarray) -> np.ndarray:
    m = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])
    return np.clip(ycc @ m.T, 0, 1)


def swap_change(pixels: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Recolour N×3 pixels in [0, 1]: rotate and scale chroma in YCbCr, bend luminance with a gamma and gain."""
    ycc = _ycc(pixels)
    angle = np.deg2rad(rng.choice([-1, 1]) * rng.uniform(15, 45) * strength)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    ycc[:, 1:] = (ycc[:, 1:] @ rot.T) * (1 + rng.uniform(-0.4, 0.4) * strength)
    ycc[:, 0] = np.clip(ycc[:, 0], 0, 1) ** (2.0 ** (rng.uniform(-0.4, 0.4) * strength))
    ycc[:, 0] *= 1 + rng.uniform(-0.2, 0.2) * strength
    return _rgb(ycc)


def off_centre_region(image: np.ndarray, maps: list[np.ndarray], rng: np.random.Generator) -> np.ndarray | None:
    """A region of 3–40 % of the image whose centroid lies away from the centre and which does not cover the
    central pixel: a human segment where the photo has segmentations, else a cluster of SLIC superpixels."""
    h, w = image.shape[:2]
    if maps:
        labels = maps[int(rng.integers(len(maps)))]
    else:
        labels = slic(image, n_segments=40, compactness=10, start_label=0)
    yy, xx = np.mgrid[0:h, 0:w]
    centre = labels[h // 2, w // 2]
    good = []
    for i in np.unique(labels):
        if i == centre:
            continue
        cy, cx = yy[labels == i].mean() / h - 0.5, xx[labels == i].mean() / w - 0.5
        if np.hypot(cy, cx) > 0.2:
            good.append(i)
    if not good:
        return None
    rng.shuffle(good)
    for start in good:
        mask = labels == start
        while mask.mean() < 0.03:  # small superpixels: grow with off-centre neighbours
            ring = ndimage.binary_dilation(mask, iterations=2) & ~mask
            near = [i for i in np.unique(labels[ring]) if i in good]
            if not near:
                break
            mask |= labels == near[int(rng.integers(len(near)))]
        if 0.03 <= mask.mean() <= 0.4 and not mask[h // 2, w // 2]:
            return mask
    return None


def region_swap(
    folder: str | Path, n: int = 100, seed: int = 0, max_side: int = 384, min_delta: float = 6.0
) -> list[EvalItem]:
    """``n`` region-swap composites (group ``swap``) and their unchanged photos (group ``swap_authentic``) from the
    held-out (test-split) photos of ``folder``; deterministic for ``seed``."""
    photos, _ = index_photos(folder)
    pool = [p for p in photos if p.split == "test"] or photos
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    items: list[EvalItem] = []
    for j in order:
        if len(items) >= 2 * n:
            break
        photo = pool[int(j)]
        image = load_photo(photo.path, max_side)
        region = off_centre_region(image, load_segments(photo, image.shape[:2]), rng)
        if region is None:
            continue
        img = image / 255.0
        for attempt in range(4):
            out = img.copy()
            out[region] = swap_change(img[region], rng, 1.0 + 0.5 * attempt)
            if mean_delta_e(out, img, region) >= min_delta:
                break
        comp = np.rint(out * 255).astype(np.uint8)
        stem = photo.path.stem
        items.append(EvalItem(f"swap/{stem}", "swap", image=jpeg(comp, 90), mask=region.astype(np.uint8) * 255))
        items.append(EvalItem(f"swap_authentic/{stem}", "swap_authentic", image=jpeg(image, 90)))
    return items
