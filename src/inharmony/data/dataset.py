"""Torch datasets over indexed samples; items are dicts of named fields."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from inharmony.data.iharmony4 import DatasetError, Sample
from inharmony.data.transforms import normalize, test_transform, to_tensor, train_transform
from inharmony.imageio import read_image, read_mask

log = logging.getLogger(__name__)
MAX_SUBSTITUTES = 10


def load_pair(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Read a composite (H×W×3 uint8) and its mask (H×W float in [0, 1]); sizes must agree."""
    image = np.asarray(read_image(sample.composite))
    mask = read_mask(sample.mask)
    if mask.shape != image.shape[:2]:
        raise DatasetError(
            f"mask {sample.mask} is {mask.shape[1]}×{mask.shape[0]} but composite {sample.composite} is "
            f"{image.shape[1]}×{image.shape[0]}; expected the same size"
        )
    return image, mask


class CompositeDataset(Dataset):
    """Composites and masks at ``size``×``size``.

    Item: ``{"image": 3×S×S normalised float, "mask": 1×S×S in {0,1}, "name": str, "subset": str, "skipped": str}``.
    ``train=True`` applies the reference augmentation with a per-item RNG derived from ``seed``,
    the item index and :meth:`set_epoch`, so runs are reproducible whatever the worker count.

    A sample that cannot be read (missing, truncated, mis-sized) never stops a run: it is logged once, the next
    readable sample takes its place, and ``skipped`` carries ``"<name>: <error>"`` so the trainer can count it
    (empty when nothing was skipped).
    """

    def __init__(self, samples: Sequence[Sample], size: int = 256, train: bool = False, seed: int = 0) -> None:
        if not samples:
            raise DatasetError("no samples to load (empty list)")
        self.samples, self.size, self.train, self.seed, self.epoch = list(samples), size, train, seed, 0
        self._reported: set[str] = set()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        skipped = ""
        for k in range(MAX_SUBSTITUTES + 1):
            sample = self.samples[(index + k) % len(self.samples)]
            try:
                image, mask = load_pair(sample)
                break
            except (ValueError, OSError) as exc:  # DatasetError and ImageReadError are ValueErrors
                skipped = skipped or f"{sample.name}: {exc}"
                if sample.name not in self._reported:
                    self._reported.add(sample.name)
                    log.warning("sample skipped: %s", exc)
        else:
            raise DatasetError(f"{MAX_SUBSTITUTES + 1} samples in a row from {self.samples[index].name} are unreadable")
        img_t, mask_t = to_tensor(image), torch.from_numpy(mask)[None]
        if self.train:
            rng = random.Random(hash((self.seed, self.epoch, index)))
            img_t, mask_t = train_transform(img_t, mask_t, self.size, rng)
        else:
            img_t, mask_t = test_transform(img_t, mask_t, self.size)
        return {
            "image": normalize(img_t),
            "mask": mask_t,
            "name": sample.name,
            "subset": sample.subset,
            "skipped": skipped,
        }
