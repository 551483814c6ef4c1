"""Evaluation sets beyond the published protocol: authentic photos, the region-swap probe and the cut-out probe.

- *Authentic photos*: photos with no edit (empty masks). A localiser should mark nothing on them; the published
  protocol cannot see a confident mask there (it min-max normalises every prediction), so these are scored by
  predicted area, maximum probability and the image-level score.
- *Region swap*: from authentic photos, a region that is **not** the salient object (a segment away from the
  image centre: background, part of a surface, one of several objects) gets a colour change written here, on
  purpose independently of the training generator (a chroma rotation and luminance curve in YCbCr). A
  salient-object detector scores low on it. Each swap composite comes with its unchanged photo.
- *Cut-out pastes*: an object cut out with its own matte (RGBA files, e.g. the Debian stamps that ``inharmony data
  photos`` writes under ``cutouts/``) pasted into a held-out photo at a plausible size, standing in the lower half,
  composited through its alpha: copy-paste as people do it, with a matte and an object from another camera, which
  the generator's pasted objects (regions of the training photos, cut by their maps) are not. Each composite comes
  with its unchanged photo. *Harmonised* (``cutout_harmonised``), the object's Lab mean and spread are moved
  50–100 % of the way to the photo's, as a crude harmonisation would: a harder probe of the same pastes.

Every set is a list of :class:`EvalItem` (image in memory or on disk, mask or None for authentic).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.segmentation import slic

from inharmony.data.synth.changes import _lab, reinhard
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


def photo_like_cutouts(folder: str | Path, min_side: int = 48, min_colours: int = 300) -> list[Path]:
    """The RGBA files of ``folder`` (searched recursively) that look photographic: an opaque part of at least
    ``min_side``² pixels with at least ``min_colours`` distinct colours (at 5 bits a channel; flat clip-art has
    far fewer)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"cut-out folder not found: {folder}")
    kept = []
    for path in sorted(folder.rglob("*.png")):
        with Image.open(path) as img:
            rgba = np.asarray(img.convert("RGBA"))
        opaque = rgba[..., 3] > 127
        if opaque.sum() >= min_side * min_side and len(np.unique(rgba[opaque][:, :3] // 8, axis=0)) >= min_colours:
            kept.append(path)
    if not kept:
        raise ValueError(f"{folder}: no photographic RGBA cut-outs (PNG with alpha, ≥ {min_colours} colours)")
    return kept


def paste_matte(
    image: np.ndarray, rgba: np.ndarray, area: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """``rgba`` (an H×W×4 cut-out) scaled so its opaque part covers about ``area`` of ``image``, placed at a random
    column with its foot in the image's lower half, composited through its alpha. Returns (composite, mask: alpha
    ≥ 0.5 as 0/255), or None when it cannot fit."""
    alpha = rgba[..., 3]
    ys, xs = np.nonzero(alpha > 127)
    if ys.size < 16:
        return None
    rgba = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = image.shape[:2]
    scale = np.sqrt(area * h * w / ys.size)
    scale = min(scale, 0.9 * h / rgba.shape[0], 0.9 * w / rgba.shape[1])
    oh, ow = round(rgba.shape[0] * scale), round(rgba.shape[1] * scale)
    if min(oh, ow) < 8:
        return None
    layer = np.asarray(Image.fromarray(rgba).resize((ow, oh), Image.LANCZOS), dtype=np.float64)
    top = int(rng.integers(max(0, h // 2 - oh), h - oh + 1))  # the foot between the middle and the bottom
    left = int(rng.integers(0, w - ow + 1))
    comp = image.astype(np.float64)
    a = layer[..., 3:] / 255.0
    window = comp[top : top + oh, left : left + ow]
    comp[top : top + oh, left : left + ow] = window * (1 - a) + layer[..., :3] * a
    mask = np.zeros((h, w), np.uint8)
    mask[top : top + oh, left : left + ow] = np.where(a[..., 0] >= 0.5, 255, 0)
    return np.rint(comp).clip(0, 255).astype(np.uint8), mask


def harmonise(comp: np.ndarray, photo: np.ndarray, mask: np.ndarray, share: float) -> np.ndarray:
    """``comp`` with the pixels under ``mask`` moved ``share`` of the way to the Lab mean and standard deviation
    of ``photo``'s pixels outside it (Reinhard's colour transfer, the crudest harmonisation)."""
    inside = mask > 0
    if inside.sum() < 16 or (~inside).sum() < 16:
        return comp
    src = comp[inside] / 255.0
    moved = reinhard(src, photo[~inside] / 255.0, "lab")
    out = comp.astype(np.float64)
    out[inside] = ((1 - share) * src + share * moved) * 255.0
    return np.rint(out).clip(0, 255).astype(np.uint8)


def _suited_cutout(stamps: list[Path], drawn: np.ndarray, image: np.ndarray, means: dict[int, np.ndarray]) -> int:
    """Of the cut-outs ``drawn`` (indices into ``stamps``), the one whose opaque pixels' mean Lab colour is nearest
    ``image``'s; ``means`` caches each file's mean."""
    target = _lab(image.reshape(-1, 3)[::7] / 255.0).mean(0)
    for k in map(int, drawn):
        if k not in means:
            with Image.open(stamps[k]) as img:
                rgba = np.asarray(img.convert("RGBA"))
            means[k] = _lab(rgba[rgba[..., 3] > 127][:, :3] / 255.0).mean(0)
    return min(map(int, drawn), key=lambda k: float(np.linalg.norm(means[k] - target)))


def cutout_paste(
    folder: str | Path,
    cutouts: str | Path,
    n: int = 100,
    seed: int = 0,
    max_side: int = 384,
    area: tuple[float, float] = (0.03, 0.25),
    harmonised: bool = False,
    matched: int = 0,
    every_photo: bool = False,
) -> list[EvalItem]:
    """``n`` cut-out composites (group ``cutout``; :func:`paste_matte` with the photographic files of
    :func:`photo_like_cutouts`, an area drawn log-uniformly in ``area``; with ``harmonised`` each then
    passed through :func:`harmonise` with a share drawn in [0.5, 1]; with ``matched`` = K the cut-out is the one
    of K drawn whose mean Lab colour is nearest the photo's, as a person picks an object that suits the scene)
    and their unchanged photos (group ``cutout_authentic``) from the held-out (test-split) photos of ``folder``
    (with ``every_photo`` all of them: for a folder that no model trained on); deterministic for ``seed``."""
    stamps = photo_like_cutouts(cutouts)
    photos, _ = index_photos(folder)
    pool = photos if every_photo else [p for p in photos if p.split == "test"] or photos
    rng = np.random.default_rng(seed)
    means: dict[int, np.ndarray] = {}
    items: list[EvalItem] = []
    for j in rng.permutation(len(pool)):
        if len(items) >= 2 * n:
            break
        photo = pool[int(j)]
        image = load_photo(photo.path, max_side)
        pick = int(rng.integers(len(stamps)))
        if matched > 0:
            drawn = rng.choice(len(stamps), size=min(matched, len(stamps)), replace=False)
            pick = _suited_cutout(stamps, drawn, image, means)
        with Image.open(stamps[pick]) as img:
            rgba = np.asarray(img.convert("RGBA"))
        pasted = paste_matte(image, rgba, float(np.exp(rng.uniform(*np.log(area)))), rng)
        if pasted is None or not 0.005 <= (pasted[1] > 0).mean() <= 0.5:
            continue
        comp, mask = pasted
        if harmonised:
            comp = harmonise(comp, image, mask, float(rng.uniform(0.5, 1.0)))
        stem = photo.path.stem
        items.append(EvalItem(f"cutout/{stem}", "cutout", image=jpeg(comp, 90), mask=mask))
        items.append(EvalItem(f"cutout_authentic/{stem}", "cutout_authentic", image=jpeg(image, 90)))
    return items
