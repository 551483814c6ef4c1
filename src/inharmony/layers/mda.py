"""Mask-guided Dual Attention (MDA), DIRL reference §1.3.

An ECA channel gate followed by a spatial gate, with a residual connection. The spatial map is
returned so that the engine can supervise it with the ground-truth mask ("mask-guided"); the
mask itself is never an input.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MDA(nn.Module):
    """Dual attention on a ``channels``-wide map.

    Returns ``(refined, attention)``: ``refined = Fc * A + Fc`` with the same shape as the input and
    ``attention`` the spatial gate ``A`` (B×1×H×W, probabilities in (0, 1)).
    """

    def __init__(self, channels: int = 32, eca_kernel: int = 3, spatial_kernel: int = 7) -> None:
        super().__init__()
        self.eca = nn.Conv1d(1, 1, eca_kernel, padding=eca_kernel // 2, bias=False)
        self.spatial = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels, momentum=0.01),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, 1, spatial_kernel, padding=spatial_kernel // 2, bias=False),
            nn.BatchNorm2d(1, momentum=0.01),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, c = x.shape[:2]
        pooled = x.mean(dim=(2, 3)).view(b, 1, c)
        gate = torch.sigmoid(self.eca(pooled)).view(b, c, 1, 1)
        fc = x * gate
        attention = torch.sigmoid(self.spatial(fc))
        return fc * attention + fc, attention
