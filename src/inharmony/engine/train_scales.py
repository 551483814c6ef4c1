"""``train.scales``: each training step sees its batch at one of several input scales.

The test-time option ``scale_test`` runs the model on the image resized by other factors too (bilinear, each
side a multiple of 32). At a single training size the model's skills sit at different scales (session 27: the
in-place recolourings are found best at 0.8×, pasted regions at 1.2×). Training across the same factors lets one
set of weights learn them at every scale: the batch the data gives is resized by a factor drawn for the step
(images bilinear, masks bilinear then cut at 0.5, as the masks of the data are binary; a region too thin for
that keeps its strongest pixels), which depends only on ``(seed, step)``, so a resumed run draws the same factors.
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from inharmony.models.dirl import SCALE_RANGE, scaled_size


def check_scales(factors: list[float] | None) -> list[float] | None:
    """``factors`` as floats, or None when off (null or empty); a clear error for anything else."""
    if factors is None or (isinstance(factors, (list, tuple)) and not factors):
        return None
    if not isinstance(factors, (list, tuple)):
        raise ValueError(f"train.scales must be a list of factors such as [0.8, 1.0, 1.2] or null, got {factors!r}")
    out = []
    for f in factors:
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not SCALE_RANGE[0] <= float(f) <= SCALE_RANGE[1]:
            raise ValueError(
                f"train.scales: each factor must be a number in [{SCALE_RANGE[0]}, {SCALE_RANGE[1]}], got {f!r}"
            )
        out.append(float(f))
    return out


def step_factor(factors: list[float], seed: int, step: int) -> float:
    """The factor of optimiser step ``step`` (the same on every process and after a resume)."""
    return factors[int(np.random.default_rng([seed, step]).integers(len(factors)))]


def rescale(image: Tensor, mask: Tensor, factor: float) -> tuple[Tensor, Tensor]:
    """A batch (B×3×H×W images, B×1×H×W masks) at ``factor`` times its size, each side a multiple of 32."""
    size = scaled_size(tuple(image.shape[-2:]), factor)
    if list(image.shape[-2:]) == size:
        return image, mask
    image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
    soft = F.interpolate(mask.float(), size=size, mode="bilinear", align_corners=False)
    # a region too thin for 0.5 at the new size keeps its strongest pixels: a composite stays a composite
    peak = soft.flatten(1).amax(1).view(-1, 1, 1, 1)
    return image, ((soft > 0.5) | ((soft >= peak) & (peak > 0))).to(mask.dtype)


def rescaled_batch(batch: dict, factors: list[float] | None, seed: int, step: int) -> dict:
    """``batch`` with its image and mask at the step's scale (``batch`` itself when ``factors`` is None)."""
    if not factors:
        return batch
    image, mask = rescale(batch["image"], batch["mask"], step_factor(factors, seed, step))
    return {**batch, "image": image, "mask": mask}
