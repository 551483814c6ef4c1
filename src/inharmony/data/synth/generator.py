"""Seeded composite generation: one function for a single composite, a writer, and an on-the-fly Dataset."""

from __future__ import annotations

import csv
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import color
from torch.utils.data import Dataset

from inharmony.data.synth.appearance import random_appearance
from inharmony.data.synth.photos import PHOTO_SUFFIXES, load_photo
from inharmony.data.synth.regions import feather, place_cutout, random_region
from inharmony.data.transforms import normalize, test_transform, to_tensor, train_transform
from inharmony.fileio import atomic_path, save_image, write_text_atomic
from inharmony.imageio import ImageReadError

log = logging.getLogger(__name__)


@dataclass
class Composite:
    """A synthetic composite: ``composite``/``real`` H×W×3 uint8, ``mask`` H×W uint8 (0/255), ``alpha`` float."""

    composite: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray
    real: np.ndarray
    info: dict = field(default_factory=dict)


def colour_delta(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """Mean CIE76 ΔE between two uint8 images inside ``region``."""
    if not region.any():
        return 0.0
    la, lb = color.rgb2lab(a[region][None] / 255.0)[0], color.rgb2lab(b[region][None] / 255.0)[0]
    return float(np.linalg.norm(la - lb, axis=-1).mean())


def sample_pixels(image: np.ndarray, rng: np.random.Generator, count: int = 4096) -> np.ndarray:
    """Pixels (N×3 in [0, 1]) of a random window of ``image``: the colour statistics of "another object"."""
    h, w = image.shape[:2]
    ch, cw = max(4, int(h * rng.uniform(0.2, 0.6))), max(4, int(w * rng.uniform(0.2, 0.6)))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    pixels = image[top : top + ch, left : left + cw].reshape(-1, 3) / 255.0
    return pixels[rng.choice(len(pixels), size=min(count, len(pixels)), replace=False)]


def paste_cutout(real: np.ndarray, rgba: np.ndarray, rng: np.random.Generator, target: float):
    """Paste an RGBA cut-out at about ``target`` area; return (layer H×W×3 in [0,1], alpha)."""
    h, w = real.shape[:2]
    alpha, (top, left, nh, nw) = place_cutout(rgba[..., 3] / 255.0, h, w, rng, target)
    layer = real / 255.0
    obj = np.asarray(Image.fromarray(rgba[..., :3]).resize((nw, nh), Image.BILINEAR)) / 255.0
    layer = layer.copy()
    layer[top : top + nh, left : left + nw] = obj
    return layer, alpha.astype(np.float32)


def make_composite(
    real: np.ndarray,
    rng: np.random.Generator,
    reference: np.ndarray | None = None,
    cutouts: list[np.ndarray] | None = None,
    area: tuple[float, float] = (0.01, 0.5),
    strength: tuple[float, float] = (0.3, 1.0),
    min_delta: float = 4.0,
    paste_prob: float = 0.2,
) -> Composite:
    """Make one composite from a real photo (H×W×3 uint8).

    ``reference`` is another photo whose colour statistics may be transferred; ``cutouts`` are RGBA
    arrays used as region shapes or pasted objects. The appearance change is strengthened (up to 4
    tries) until the mean ΔE inside the region reaches ``min_delta``. Pixels with alpha 0 are untouched.
    """
    img = real.astype(np.float64) / 255.0
    info: dict = {}
    layer = None
    if cutouts and rng.random() < paste_prob:
        layer, alpha = paste_cutout(real, cutouts[int(rng.integers(len(cutouts)))], rng, float(rng.uniform(0.03, 0.3)))
        if not area[0] <= (alpha > 0.5).mean() <= area[1]:
            layer = None
        else:
            info["region"] = "paste"
    if layer is None:
        alphas = [c[..., 3] / 255.0 for c in cutouts] if cutouts else None
        region, info["region"] = random_region(real, rng, area, alphas)
        alpha = feather(region, rng)
        if not area[0] <= (alpha > 0.5).mean() <= area[1]:
            alpha = region.astype(np.float32)  # feathering shrank a small region past the bound
        layer = img
    region = alpha > 0.5
    ref_pixels = sample_pixels(reference, rng) if reference is not None else None
    s = float(rng.uniform(*strength))
    ys, xs = np.nonzero(alpha > 0)
    box = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]  # change only the region's bounding box
    for _attempt in range(4):
        changed, ops = random_appearance(layer[box], region[box], rng, s, ref_pixels)
        if info["region"] == "paste" and rng.random() < 0.5:
            changed, ops = layer[box], ["paste"]
        a = alpha[box][..., None]
        comp = real.copy()
        blended = np.rint((img[box] * (1 - a) + changed * a) * 255.0).clip(0, 255).astype(np.uint8)
        comp[box] = np.where(a > 0, blended, real[box])
        delta = colour_delta(comp, real, region)
        if delta >= min_delta:
            break
        s = min(1.0, s * 1.5 + 0.15)
    info.update(ops=ops, strength=round(s, 3), delta_e=round(delta, 2), area=round(float(region.mean()), 4))
    return Composite(comp, region.astype(np.uint8) * 255, alpha, real, info)


def list_photos(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder not found: {folder}")
    photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
    if not photos:
        raise FileNotFoundError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) under {folder}")
    return photos


def load_cutouts(folder: str | Path | None, limit: int = 500) -> list[np.ndarray]:
    """RGBA cut-outs (cropped to their alpha's bounding box) from PNG files with transparency."""
    if folder is None:
        return []
    cutouts = []
    for path in sorted(Path(folder).rglob("*.png"))[:limit]:
        try:
            img = Image.open(path)
            if "A" not in img.getbands() and "transparency" not in img.info:
                continue
            arr = np.asarray(img.convert("RGBA"))
        except OSError:
            log.warning("cut-out skipped (unreadable): %s", path)
            continue
        ys, xs = np.nonzero(arr[..., 3] > 127)
        if len(ys) > 64:
            cutouts.append(arr[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    return cutouts


def write_synthetic_dataset(
    photos_dir: str | Path,
    out: str | Path,
    n: int,
    seed: int = 0,
    test_fraction: float = 0.2,
    max_side: int = 512,
    cutouts_dir: str | Path | None = None,
    subset: str = "Synthetic",
    progress=None,
    **composite_kwargs,
) -> dict[str, int]:
    """Write ``n`` composites in the iHarmony4 layout under ``out/<subset>/``.

    Photos are split (seeded) into train and test photos, so test composites come from held-out
    photos. Composite ``i`` depends only on ``(seed, i)``. Unreadable photos are skipped and reported.
    """
    out = Path(out)
    photos = list_photos(photos_dir)
    order = random.Random(seed).sample(range(len(photos)), len(photos))
    n_test = max(1, round(len(photos) * test_fraction)) if len(photos) > 1 and test_fraction > 0 else 0
    test_ids = set(order[:n_test])
    cutouts = load_cutouts(cutouts_dir)
    base = out / subset
    lists: dict[str, list[str]] = {"train": [], "test": []}
    cache: dict[int, np.ndarray] = {}
    bad: set[int] = set()
    indices = range(n) if progress is None else progress(range(n))
    for i in indices:
        rng = np.random.default_rng([seed, i])
        pid = order[i % len(photos)]
        if pid in bad:
            continue
        try:
            if pid not in cache:
                cache[pid] = load_photo(photos[pid], max_side)
                save_image(base / "real_images" / f"s{pid:05d}.jpg", cache[pid])
            same_split = [j for j in cache if (j in test_ids) == (pid in test_ids) and j != pid]
            reference = cache[same_split[int(rng.integers(len(same_split)))]] if same_split else None
        except ImageReadError as exc:
            log.warning("photo skipped: %s", exc)
            bad.add(pid)
            continue
        comp = make_composite(cache[pid], rng, reference, cutouts, **composite_kwargs)
        name = f"s{pid:05d}_{i}_1.jpg"
        save_image(base / "composite_images" / name, comp.composite)
        save_image(base / "masks" / f"s{pid:05d}_{i}.png", comp.mask)
        lists["test" if pid in test_ids else "train"].append(name)
    for split, names in lists.items():
        write_text_atomic(base / f"{subset}_{split}.txt", "".join(f"{x}\n" for x in names))
    with atomic_path(base / "photos.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "split", "photo"])
        for pid, path in enumerate(photos):
            writer.writerow([f"s{pid:05d}", "test" if pid in test_ids else "train", str(path)])
    return {"train": len(lists["train"]), "test": len(lists["test"]), "skipped_photos": len(bad)}


class SyntheticDataset(Dataset):
    """Composites generated on the fly (no files written), same item fields as ``CompositeDataset``.

    Item ``i`` of epoch ``e`` depends only on ``(seed, e, i)``.
    """

    def __init__(
        self,
        photos: list[str | Path],
        length: int,
        size: int = 256,
        train: bool = True,
        seed: int = 0,
        max_side: int = 512,
        cutouts_dir: str | Path | None = None,
    ) -> None:
        if not photos:
            raise ValueError("SyntheticDataset needs at least one photo")
        self.photos, self.length, self.size, self.train = [Path(p) for p in photos], length, size, train
        self.seed, self.max_side, self.epoch = seed, max_side, 0
        self.cutouts = load_cutouts(cutouts_dir)
        self._cache: dict[int, np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def _photo(self, j: int) -> np.ndarray:
        if j not in self._cache:
            self._cache[j] = load_photo(self.photos[j], self.max_side)
        return self._cache[j]

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, index])
        j = int(rng.integers(len(self.photos)))
        k = int(rng.integers(len(self.photos)))
        comp = make_composite(self._photo(j), rng, self._photo(k) if k != j else None, self.cutouts)
        image, mask = to_tensor(comp.composite), torch.from_numpy(comp.mask.astype(np.float32) / 255.0)[None]
        if self.train:
            image, mask = train_transform(image, mask, self.size, random.Random(int(rng.integers(2**31))))
        else:
            image, mask = test_transform(image, mask, self.size)
        return {"image": normalize(image), "mask": mask, "name": f"synthetic/{index}", "subset": "Synthetic"}
