"""Parameter-free reference localisers, so that "learning matters" can be measured.

They take the same ImageNet-normalised B×3×H×W input and return the same output dict as DIRL
(``logits``; ``attention`` is empty), so the engine evaluates them with the same protocol.

- ``reference_whole_image``: every pixel is inharmonious.
- ``reference_nothing``: no pixel is inharmonious (the "silent" model: no false alarm, nothing found).
- ``reference_centre_prior``: a centred Gaussian (objects tend to sit near the middle).
- ``reference_colour_stats``: classical colour-statistics detector: split the image into Felzenszwalb
  segments and score each by how far its Lab mean and spread are from those of the rest of the image.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage import color
from skimage.segmentation import felzenszwalb
from torch import Tensor, nn

from inharmony.data.transforms import denormalize


def _prob_to_logits(prob: Tensor) -> Tensor:
    return torch.logit(prob.clamp(1e-4, 1 - 1e-4))


class WholeImage(nn.Module):
    def forward(self, x: Tensor) -> dict:
        return {"logits": torch.full_like(x[:, :1], 10.0), "attention": []}


class Nothing(nn.Module):
    def forward(self, x: Tensor) -> dict:
        return {"logits": torch.full_like(x[:, :1], -10.0), "attention": []}


class CentrePrior(nn.Module):
    def __init__(self, sigma: float = 0.25) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> dict:
        h, w = x.shape[-2:]
        yy = torch.linspace(-0.5, 0.5, h, device=x.device)[:, None]
        xx = torch.linspace(-0.5, 0.5, w, device=x.device)[None, :]
        prob = torch.exp(-(yy**2 + xx**2) / (2 * self.sigma**2))
        return {"logits": _prob_to_logits(prob).expand(x.shape[0], 1, h, w).clone(), "attention": []}


def colour_stats_map(rgb: np.ndarray, work_size: int = 128) -> np.ndarray:
    """H×W×3 float RGB in [0, 1] → H×W score in [0, 1] (higher = more unlike the rest of the image)."""
    h, w = rgb.shape[:2]
    small = (
        F.interpolate(
            torch.from_numpy(rgb).permute(2, 0, 1)[None],
            size=(work_size, work_size),
            mode="bilinear",
            align_corners=False,
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    labels = felzenszwalb(small, scale=150, sigma=0.8, min_size=40)
    lab = color.rgb2lab(np.clip(small, 0, 1)).reshape(-1, 3)
    flat = labels.ravel()
    n = flat.max() + 1
    count = np.bincount(flat, minlength=n).astype(np.float64)
    total, total_sq = lab.sum(0), (lab**2).sum(0)
    seg_sum = np.stack([np.bincount(flat, lab[:, c], n) for c in range(3)], 1)
    seg_sq = np.stack([np.bincount(flat, lab[:, c] ** 2, n) for c in range(3)], 1)
    mean = seg_sum / count[:, None]
    std = np.sqrt(np.maximum(seg_sq / count[:, None] - mean**2, 0))
    rest_n = np.maximum(len(flat) - count, 1)[:, None]
    rest_mean = (total - seg_sum) / rest_n
    rest_std = np.sqrt(np.maximum((total_sq - seg_sq) / rest_n - rest_mean**2, 0)) + 1.0
    distance = np.linalg.norm((mean - rest_mean) / rest_std, axis=1) + 0.5 * np.linalg.norm(
        np.log((std + 1.0) / rest_std), axis=1
    )
    # Regions above half the image are background by the le50 convention.
    distance[count / len(flat) > 0.5] = 0.0
    score = distance[labels]
    score = (score - score.min()) / max(score.max() - score.min(), 1e-6)
    up = F.interpolate(torch.from_numpy(score)[None, None].float(), size=(h, w), mode="bilinear", align_corners=False)
    return up[0, 0].numpy()


class ColourStats(nn.Module):
    def forward(self, x: Tensor) -> dict:
        rgb = denormalize(x.float().cpu()).clamp(0, 1).permute(0, 2, 3, 1).numpy().astype(np.float64)
        maps = np.stack([colour_stats_map(img) for img in rgb])[:, None]
        prob = torch.from_numpy(maps).float().to(x.device)
        return {"logits": _prob_to_logits(prob * 0.98 + 0.01), "attention": []}
