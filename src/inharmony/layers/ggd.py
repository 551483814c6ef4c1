"""Global-context Guided Decoder (GGD), DIRL reference §1.4.

Two streams travel upward: the main stream ``up`` and the global-context stream ``bottom``, both
starting from the deepest attended map. Every conv is ``BN(Conv3x3)`` without bias and without a
non-linearity; upsampling is bilinear with ``align_corners=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels))


def upsample_bilinear(x: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


class GGDBlock(nn.Module):
    """One decoder step: gate the skip feature by the upsampled main stream, carry the context."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.up_conv = conv_bn(channels, channels)
        self.context_conv = conv_bn(channels, channels)
        self.fuse = conv_bn(2 * channels, channels)

    def forward(self, up: Tensor, context: Tensor, skip: Tensor) -> tuple[Tensor, Tensor]:
        size = skip.shape[-2:]
        gated = self.up_conv(upsample_bilinear(up, size)) * skip
        context = self.context_conv(upsample_bilinear(context, size))
        return self.fuse(torch.cat([gated, context], dim=1)), context


class GGDDecoder(nn.Module):
    """Decode attended maps ``[F'_1, F'_2, F'_3, F'_4]`` (fine → coarse) into one-channel logits.

    The logits come out at twice the resolution of ``F'_1`` (the input size for DIRL-ResNet-34).
    """

    def __init__(self, channels: int = 32, num_blocks: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(GGDBlock(channels) for _ in range(num_blocks))
        self.head = nn.Conv2d(channels, 1, 1, bias=True)

    def forward(self, features: list[Tensor]) -> Tensor:
        if len(features) != len(self.blocks) + 1:
            raise ValueError(f"GGDDecoder expects {len(self.blocks) + 1} feature maps, got {len(features)}")
        up = context = features[-1]
        for block, skip in zip(self.blocks, reversed(features[:-1])):
            up, context = block(up, context, skip)
        h, w = up.shape[-2:]
        return self.head(upsample_bilinear(up, (2 * h, 2 * w)))
