"""A localiser made of the self-supervised colour-consistency embedding alone (issue 21's fourth colour arm).

Every 32-px patch of the image is embedded (:class:`~inharmony.layers.consistency.PatchEmbedder`) and compared
with reference patches spread over the image (:class:`~inharmony.layers.consistency.PairHead`); a patch's
probability of being inharmonious is how unlike the image's majority it looks
(:func:`~inharmony.layers.consistency.inconsistency_map`). Nothing here ever saw a mask: it is trained on
authentic photos only (``inharmony consistency``), and the same output dict as DIRL's lets the evaluation
command measure it like any localiser (its image score, the mean of the top 1 % of the map, is then the
inconsistency of the image's least consistent patches). With ``relative`` (the default) the map says how far a
patch stands out above the image's median patch (:func:`~inharmony.layers.consistency.standing_out`): a pair head
that is unsure of every pair of an authentic photo then marks nothing there, and the order of the pixels, hence
AP, is the raw map's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers.consistency import (
    PairHead,
    PatchEmbedder,
    inconsistency_map,
    majority_level,
    patch_embeddings,
    standing_out,
)


class ConsistencyLocaliser(nn.Module):
    def __init__(
        self,
        dim: int = 64,
        width: int = 32,
        hidden: int = 128,
        references: int = 64,
        relative: bool = True,
        smooth: int = 0,
    ) -> None:
        super().__init__()
        self.relative = relative
        self.embedder = PatchEmbedder(dim=dim, width=width, smooth=smooth)
        self.head = PairHead(dim=dim, hidden=hidden)
        self.references = references

    def forward(self, x: Tensor) -> dict:
        score = inconsistency_map(patch_embeddings(self.embedder, x), self.head, self.references)
        if self.relative:
            score = standing_out(score, majority_level(score))
        prob = F.interpolate(score, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"logits": torch.logit(prob.clamp(1e-4, 1 - 1e-4)), "attention": []}
