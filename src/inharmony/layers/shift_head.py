"""A training-only question for the features: *how* was each pixel's colour changed?

The verdict head pools the decoder's 1/8 and deepest maps and the colour stream inside and outside the candidate;
session 11 measured that, even under the true region, those features tell an in-place composite from its own
authentic twin only at AUROC ≈ 0.65 (``benchmarks/verdict_cues.py``): the features, not the head, are what limit
the image score. A binary mask says only *where*; the change itself is known for every training pair made in
place: the composite minus its twin, per pixel. :class:`ShiftHead` reads those same maps and regresses that
change as a log-opponent colour shift (luminance, red–green, yellow–blue; 0 outside the region and everywhere on
an authentic photo), so the gradient asks the features to carry the direction and size of the change where it
was made — what a harmonisation network learns, here as an auxiliary target.

The head is a 1×1 projection (nearly linear, so what it reads the verdict head can read too); it runs in
training only and adds nothing to inference or to the ONNX graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.data.transforms import denormalize
from inharmony.layers.colour import log_opponent

# log intensities below this are noise: a shift of dark pixels says little about the change
DARK = 0.02
# targets and predictions in units of 0.1 log intensity (≈ a 10 % gain), so the loss is of order one; a target is
# clipped at ±LIMIT units (a factor e): beyond that a tiny or dark region only adds noise
UNIT = 0.1
LIMIT = 10.0


class ShiftHead(nn.Module):
    """``forward(maps)``: feature maps (B×C_k×h_k×w_k, channels as given) → B×3×h×w colour shifts at the first
    map's resolution, in :data:`UNIT` s."""

    def __init__(self, channels: tuple[int, ...], hidden: int = 32) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(sum(channels), hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, 3, 1))

    def forward(self, maps: list[Tensor]) -> Tensor:
        size = maps[0].shape[-2:]
        resized = [
            m if m.shape[-2:] == size else F.interpolate(m, size=size, mode="bilinear", align_corners=False)
            for m in maps
        ]
        return self.proj(torch.cat(resized, dim=1))


def colour_shift(image: Tensor, reference: Tensor, size: tuple[int, int]) -> Tensor:
    """B×3×H×W ImageNet-normalised ``image`` minus ``reference`` as log-opponent colour, averaged to ``size``,
    in :data:`UNIT` s and within ±:data:`LIMIT`: exactly 0 wherever the two images are equal."""

    def code(x: Tensor) -> Tensor:
        return log_opponent(denormalize(x.float()).clamp(0.0, 1.0) + DARK)

    return (F.adaptive_avg_pool2d(code(image) - code(reference), size) / UNIT).clamp(-LIMIT, LIMIT)
