"""Patch pairs from authentic photos for the self-supervised colour-consistency embedding
(:mod:`inharmony.layers.consistency`).

Item ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: two P×P patches ``a`` and ``b`` at one scale (a
window of P·s pixels, s drawn in ``scale``, resized to P) and ``label`` 1 when they were processed differently:

- ``same`` (label 0): two windows of one photo, anywhere (different content, same light and processing);
- ``recolour`` (label 1): ``b`` comes from the same photo, but a window around it was given another look, as
  iHarmony4's composites were made: another photo's colour statistics (Reinhard in Lab or RGB, histogram
  matching, iterative distribution transfer), a retoucher's edit, or another time of day
  (:mod:`inharmony.data.synth.changes`); a change below ``min_delta_e`` (mean CIE76 ΔE) is drawn again, and
  after four tries the pair becomes an ``other`` pair;
- ``other`` (label 1): ``b`` is a window of another photo (another camera, light and processing).

Half the pairs of every kind then get one global edit applied to both patches, so a look that the whole image
shares never decides. Photos are decoded once per process, at a long side of at most ``max_side``.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from inharmony.data.synth import changes
from inharmony.data.synth.composer import mean_delta_e
from inharmony.data.synth.photos import Photo, load_photo
from inharmony.data.transforms import IMAGENET_MEAN, IMAGENET_STD

KINDS = ("same", "recolour", "other")


def _window(image: np.ndarray, side: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a random ``side``×``side`` window inside ``image``."""
    h, w = image.shape[:2]
    return int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))


def _patch(image: np.ndarray, top: int, left: int, side: int, size: int) -> np.ndarray:
    """The window resized to ``size``×``size``, float in [0, 1]."""
    crop = np.ascontiguousarray(image[top : top + side, left : left + side])
    if crop.dtype != np.uint8:
        crop = (np.clip(crop, 0, 1) * 255).round().astype(np.uint8)
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0


def _to_tensor(patch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((patch - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32))


def recolour(window: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``window`` (H×W×3 in [0, 1]) with another look: a transfer of ``donor`` pixels' statistics (N×3), an edit
    or another light."""
    kind = rng.choice(["transfer", "retouch", "lighting"], p=[0.5, 0.3, 0.2])
    if kind == "transfer":
        method = str(rng.choice(changes.TRANSFER_METHODS))
        return changes.transfer(window.reshape(-1, 3), donor, method, rng).reshape(window.shape)
    if kind == "retouch":
        return changes.apply_edit(window, changes.random_edit(rng, amount=rng.uniform(0.5, 1.5)))
    return changes.lighting(window, rng, amount=rng.uniform(0.5, 1.2))


class PatchPairs(Dataset):
    """``length`` pairs per epoch from ``photos`` (authentic photos; choose the split before passing them)."""

    def __init__(
        self,
        photos: list[Photo],
        length: int,
        seed: int = 0,
        patch: int = 32,
        scale: tuple[float, float] = (1.0, 2.5),
        shares: tuple[float, float, float] = (0.5, 0.3, 0.2),
        min_delta_e: float = 3.0,
        max_side: int = 384,
    ) -> None:
        if len(photos) < 2:
            raise ValueError(f"patch pairs need at least 2 photos, got {len(photos)}")
        if len(shares) != 3 or min(shares) < 0 or sum(shares) <= 0:
            raise ValueError(f"shares: three non-negative weights for {KINDS}, got {shares}")
        self.photos, self.length, self.seed, self.patch = photos, length, seed, patch
        self.scale, self.min_delta_e, self.max_side = scale, min_delta_e, max_side
        self.shares = np.asarray(shares, dtype=np.float64) / sum(shares)
        self.epoch = 0
        self._cache: dict[int, np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def photo(self, j: int) -> np.ndarray:
        if j not in self._cache:
            self._cache[j] = load_photo(self.photos[j].path, self.max_side)
        return self._cache[j]

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        """(patch a, patch b, kind) as float H×W×3 arrays in [0, 1]."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        n, p = len(self.photos), self.patch
        j = int(rng.integers(n))
        image = self.photo(j)
        side = int(min(p * rng.uniform(*self.scale), min(image.shape[:2])))
        a = _patch(image, *_window(image, side, rng), side, p)
        kind = str(rng.choice(KINDS, p=self.shares))
        b = None
        if kind == "same":
            b = _patch(image, *_window(image, side, rng), side, p)
        elif kind == "recolour":
            big = min(2 * side, min(image.shape[:2]))
            donor = self.photo(int((j + rng.integers(1, n)) % n))
            dside = min(big, min(donor.shape[:2]))
            dt, dl = _window(donor, dside, rng)
            donor_px = donor[dt : dt + dside, dl : dl + dside].reshape(-1, 3).astype(np.float32) / 255.0
            top, left = _window(image, big, rng)
            window = image[top : top + big, left : left + big].astype(np.float32) / 255.0
            for _ in range(4):
                changed = recolour(window, donor_px, rng)
                if mean_delta_e(window, changed, np.ones(window.shape[:2], bool)) >= self.min_delta_e:
                    off = (big - side) // 2
                    b = _patch(changed, off, off, side, p)
                    break
            kind = kind if b is not None else "other"
        if b is None:  # "other", or a recolouring that stayed invisible
            other = self.photo(int((j + rng.integers(1, n)) % n))
            oside = min(side, min(other.shape[:2]))
            b = _patch(other, *_window(other, oside, rng), oside, p)
        if rng.random() < 0.5:  # one look for the whole image: both patches
            edit = changes.random_edit(rng, amount=rng.uniform(0.3, 1.0))
            a, b = changes.apply_edit(a, edit), changes.apply_edit(b, edit)
        if rng.random() < 0.5:
            a, b = b, a
        return a.astype(np.float32), b.astype(np.float32), kind

    def __getitem__(self, index: int) -> dict:
        a, b, kind = self.pair(index)
        return {"a": _to_tensor(a), "b": _to_tensor(b), "label": torch.tensor(float(kind != "same")), "kind": kind}
