"""An image-level answer learned beside the mask: "does this image have an inharmonious region?".

The localiser answers *where* the region would be if there were one (a conditional mask, trained on composites
only, so silence on authentic photos never rewards it). :class:`VerdictHead` answers *whether*: it pools colour
and semantic features inside the localiser's candidate region and outside it (weights = the candidate
probabilities, detached) and compares them, as a human would check whether the candidate matches its
surroundings. Its logit ``v`` gates the mask: ``P(pixel inharmonious) = σ(v) · σ(mask logit)``, a proper
factorisation (image has a region) × (pixel in it | image has one), so the per-image ranking of pixels, and
with it AP, is the localiser's own, while an authentic photo whose verdict is "no" gets an empty mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

EPS = 1e-6


def masked_mean(features: Tensor, weight: Tensor) -> Tensor:
    """B×C×H×W features averaged under B×1×H×W weights (resized to the features) → B×C."""
    weight = F.interpolate(weight, size=features.shape[-2:], mode="bilinear", align_corners=False)
    return (features * weight).sum(dim=(2, 3)) / (weight.sum(dim=(2, 3)) + EPS)


def candidate_stats(prob: Tensor) -> list[Tensor]:
    """The candidate's confidence: the mean of its top 1 % probabilities and its mean probability, B×1 each."""
    flat = prob.flatten(1)
    k = max(1, flat.shape[1] // 100)
    return [flat.topk(k, dim=1).values.mean(1, keepdim=True), flat.mean(1, keepdim=True)]


def inside_outside(features: Tensor, prob: Tensor) -> Tensor:
    """[inside, outside, inside − outside] means of ``features`` under ``prob`` → B×3C."""
    inside, outside = masked_mean(features, prob), masked_mean(features, 1.0 - prob)
    return torch.cat([inside, outside, inside - outside], dim=1)


class VerdictHead(nn.Module):
    """``forward(prob, maps)``: the candidate region (B×1×H×W probabilities) and feature maps (B×C_k×h×w each,
    channels as given to the constructor) → B verdict logits.

    ``contrast_only``: the MLP sees the inside − outside contrasts and the candidate's confidence, with the inside
    and outside means themselves zeroed (same weights, so either kind starts from the other): what the region
    and the scene *are* can then no longer shift an image's score, only how they differ."""

    def __init__(self, channels: tuple[int, ...], hidden: int = 64, contrast_only: bool = False) -> None:
        super().__init__()
        self.contrast_only = contrast_only
        self.norms = nn.ModuleList(nn.BatchNorm2d(c) for c in channels)
        width = 3 * sum(channels) + 2  # + the candidate's top-1 % confidence and its mean
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, prob: Tensor, maps: list[Tensor]) -> Tensor:
        prob = prob.detach()
        stats = candidate_stats(prob)
        pooled = [inside_outside(norm(m), prob) for norm, m in zip(self.norms, maps)]
        if self.contrast_only:  # [inside, outside, inside − outside] → [0, 0, inside − outside]
            pooled = [p * (torch.arange(p.shape[1], device=p.device) >= 2 * p.shape[1] // 3) for p in pooled]
        return self.mlp(torch.cat([*pooled, *stats], dim=1)).squeeze(1)


def gated_logits(mask_logits: Tensor, verdict: Tensor) -> Tensor:
    """``logit(σ(mask) · σ(verdict))`` per pixel (B×1×H×W and B → B×1×H×W), clamped away from 0 and 1 so it
    stays finite (and exports to ONNX with elementary operators)."""
    return safe_logit(torch.sigmoid(mask_logits) * torch.sigmoid(verdict).view(-1, 1, 1, 1))


def safe_logit(prob: Tensor) -> Tensor:
    """``logit(prob)`` with ``prob`` clamped to [EPS, 1 − EPS]: finite, and elementary operators for ONNX."""
    prob = prob.clamp(EPS, 1.0 - EPS)
    return torch.log(prob) - torch.log1p(-prob)
