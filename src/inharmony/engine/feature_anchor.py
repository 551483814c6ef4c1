"""``train.feature_anchor``: a learning encoder kept near what its start *computes*, not near its start's weights.

A frozen copy of the encoder as ``model.init`` gave it sees the same input as the learning encoder in every
training step; the loss adds ``feature_anchor`` × the mean over the encoder's maps of their squared difference,
each relative to the frozen map's mean square (so every stage counts alike, whatever its scale). This is
function-space regularisation, as in learning without forgetting (Li and Hoiem, 2016) applied to features: the
encoder may learn what the new data teaches as long as the features the decoder (and what it already knew) rely on
change little, where ``train.anchor_decay`` (L2-SP) holds each weight whether it matters or not.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


class FeatureAnchor:
    """The frozen start encoder and a hook that keeps the learning encoder's last input and maps."""

    def __init__(self, model: nn.Module, weight: float) -> None:
        if weight <= 0:
            raise ValueError(f"train.feature_anchor must be > 0 to build an anchor, got {weight}")
        encoder = getattr(model, "encoder", None)
        if encoder is None:
            raise ValueError(f"train.feature_anchor: {type(model).__name__} has no 'encoder' to anchor")
        self.weight = weight
        self.start = copy.deepcopy(encoder).eval().requires_grad_(False)
        self._pairs = list(zip(encoder.modules(), self.start.modules()))
        self._seen: tuple[Tensor, list[Tensor]] | None = None
        encoder.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, inputs: tuple, output) -> None:
        self._seen = (inputs[0], list(output))

    def distances(self) -> Tensor:
        """Each of the last forward's maps against the start's maps of the same input: their mean squared difference
        relative to the start map's mean square (``RuntimeError`` when the encoder has not run since the last call)."""
        if self._seen is None:
            raise RuntimeError("train.feature_anchor: the encoder has not run since the last anchor loss")
        x, maps = self._seen
        self._seen = None
        for learning, start in self._pairs:  # the same mode, module by module (BatchNorm on batch or running stats)
            start.training = learning.training
        with torch.no_grad():
            ref = [r.float() for r in self.start(x.detach())]
        return torch.stack([(m.float() - r).pow(2).mean() / r.pow(2).mean().clamp_min(1e-8) for m, r in zip(maps, ref)])

    def loss(self) -> Tensor:
        """``weight`` × the mean of :meth:`distances`: what joins the training loss."""
        return self.weight * self.distances().mean()
