"""Low-level evidence for the image-level verdict: colour and the encoder's first maps, in and around the candidate.

The verdict head (:mod:`inharmony.layers.verdict_head`) pools the localiser's deep fused features, which an
ImageNet encoder has learned to make blind to colour shifts. :class:`LowLevelVerdict` adds a second term to the
verdict logit from what the deep features lose: the image's standardised log-opponent colour and its
high-frequency residual (noise and sharpness), and the encoder's first three maps (1/2 to 1/8), each pooled
inside the candidate region, outside it and in a ring just around it (mean, and the spread of the colour
channels). A region processed differently from its surroundings differs most from the ring: the same surface
continues across a boundary that an edit, not the scene, put there.

Its last layer starts at zero, so a model warm-started from one without it answers exactly as before until the
term has learned something; with the localiser frozen (``train.trainable``) only the image-level answer can move.
Given ``encoder`` (a copy of the model's encoder cut after its first stages, see ``DIRL(verdict_lowlevel="own")``),
the term computes its maps with it instead of taking the encoder's: low-level features that may learn colour for
the verdict alone while the localiser's encoder stays as it is (their BatchNorm statistics stay as copied).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers.colour import standardised_opponent
from inharmony.layers.verdict_head import EPS, candidate_stats, masked_mean


def colour_evidence(x: Tensor) -> Tensor:
    """B×3×H×W ImageNet-normalised images → B×6×H/4×W/4: standardised log-opponent colour and its absolute
    high-frequency residual (the colour minus its 3×3 local mean)."""
    z = standardised_opponent(x, 4)
    local = F.avg_pool2d(z, 3, stride=1, padding=1, count_include_pad=False)
    return torch.cat([z, (z - local).abs()], dim=1)


def ring_around(prob: Tensor, width: float = 0.06) -> Tensor:
    """B×1×H×W candidate probabilities → the band just outside them, ``width`` × the long side wide (soft, in
    [0, 1]): the dilated candidate minus the candidate."""
    k = 2 * max(1, round(width * max(prob.shape[-2:]))) + 1
    return (F.max_pool2d(prob, k, stride=1, padding=k // 2) - prob).clamp(0.0, 1.0)


def masked_std(features: Tensor, weight: Tensor) -> Tensor:
    """Spread of B×C×H×W features under B×1×H×W weights → B×C."""
    mean = masked_mean(features, weight)
    square = masked_mean(features * features, weight)
    return (square - mean * mean).clamp_min(0.0).add(EPS).sqrt()


class LowLevelVerdict(nn.Module):
    """``forward(prob, x, maps)``: the candidate region (B×1×H×W probabilities, detached here), the model's input
    (B×3×H×W, ImageNet-normalised) and early encoder maps (channels as given) → B logits added to the verdict."""

    def __init__(self, channels: tuple[int, ...], hidden: int = 64, encoder: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.norms = nn.ModuleList(nn.BatchNorm2d(c) for c in channels)
        colour = 6
        width = 5 * (colour + sum(channels)) + 2 * colour + 2
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def train(self, mode: bool = True) -> LowLevelVerdict:
        super().train(mode)
        if self.encoder is not None:  # batches of 8: the copied statistics are steadier than the batch's
            for module in self.encoder.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    @staticmethod
    def pooled(features: Tensor, inside: Tensor, outside: Tensor, ring: Tensor) -> list[Tensor]:
        i, o, r = (masked_mean(features, w) for w in (inside, outside, ring))
        return [i, o, r, i - o, i - r]

    def forward(self, prob: Tensor, x: Tensor, maps: list[Tensor]) -> Tensor:
        prob = prob.detach()
        if self.encoder is not None:
            maps = self.encoder(x)
        inside, outside, ring = prob, 1.0 - prob, ring_around(prob)
        colour = colour_evidence(x)
        spread = [masked_std(colour, inside) - masked_std(colour, w) for w in (outside, ring)]
        parts = self.pooled(colour, inside, outside, ring) + spread
        for norm, m in zip(self.norms, maps):
            parts += self.pooled(norm(m), inside, outside, ring)
        parts += candidate_stats(prob)
        return self.mlp(torch.cat(parts, dim=1)).squeeze(1)
