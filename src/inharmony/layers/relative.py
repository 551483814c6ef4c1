"""A localiser whose answer is a comparison: how far each pixel's code lies from the rest of the image's.

The decoder of DIRL may answer "where is the object"; an inharmonious region is one whose appearance does not fit
the scene around it. :class:`RelativeHead` makes that the form of its answer: a small per-pixel code ``E`` from
semantic and colour features, a reference code ``r`` pooled over the part of the image the localiser does *not*
suspect (weights ``1 − p``, detached), and the squared deviation ``d = mean_c (E − r)²``. Its logits
``s · d + t`` (``s`` starting at 1, ``t`` at −1) are trained by a loss of their own, so the code learns from the
first step; what the model outputs takes them in through a learned weight that starts at 0 (``DIRL``'s
``relative_mix``), so a warm start keeps its answer until the comparison is worth using. An authentic photo whose
codes agree gets ``d ≈ 0`` everywhere, an answer that needs no knowledge of what the objects are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers.verdict_head import masked_mean


class RelativeHead(nn.Module):
    """``forward(maps, prob)``: feature maps (B×C_k×h_k×w_k, channels as given; the first sets the resolution)
    and the localiser's current probabilities (B×1×H×W) → B×1×h×w logits of "deviates from the rest"."""

    def __init__(self, channels: tuple[int, ...], code: int = 8, width: int = 16) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, width, 1, bias=False) for c in channels)
        self.body = nn.Sequential(
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, padding_mode="replicate", bias=False),  # borders are not odd
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, code, 1),
        )
        self.scale = nn.Parameter(torch.ones(()))
        self.shift = nn.Parameter(torch.full((), -1.0))

    def deviation(self, maps: list[Tensor], prob: Tensor) -> Tensor:
        """B×1×h×w squared distance of each pixel's code from the code of the unsuspected rest of the image."""
        size = maps[0].shape[-2:]
        mixed = sum(
            F.interpolate(p(m), size=size, mode="bilinear", align_corners=False) if m.shape[-2:] != size else p(m)
            for p, m in zip(self.proj, maps)
        )
        code = self.body(mixed)
        ref = masked_mean(code, 1.0 - prob.detach())[..., None, None]
        return (code - ref).pow(2).mean(dim=1, keepdim=True)

    def forward(self, maps: list[Tensor], prob: Tensor) -> Tensor:
        return self.scale * self.deviation(maps, prob) + self.shift
