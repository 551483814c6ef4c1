"""A deeper colour branch: a small U-Net on relative-colour statistics at 1/2 resolution, from scratch.

The light :class:`~inharmony.layers.colour.ColourStream` (four convolutions at 1/4 resolution, ~40 k weights)
learned little in five sessions: the compact DIRL stayed near 43 AP on its own synthetic test. This branch has
the capacity and the geometry a colour-consistency detector needs: it starts at 1/2 resolution (small,
non-salient regions stay visible), descends to 1/16 where a global-context vector (the image's mean features)
joins, and comes back with skips, so every pixel's features compare its neighbourhood with regions and with the
whole image. Its input adds the local *spread* of colour to the local means (a statistics transfer changes both).
:class:`~inharmony.layers.colour.ColourHead` turns its features and the semantic map into a logit correction whose
last layer starts at zero, so a warm-started model keeps its answer until the branch has learned something.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers.colour import conv_bn_relu, standardised_opponent


def colour_statistics(
    x: Tensor, stride: int = 2, mean_pools: tuple[int, ...] = (7, 19, 55), spread_pools: tuple[int, ...] = (7, 19)
) -> Tensor:
    """B×3×H×W ImageNet-normalised images → B×3·(1 + len(mean_pools) + len(spread_pools))×H/stride×W/stride:
    log-opponent colour standardised by the image's own mean and spread, its local means (relative to the image)
    and its local standard deviations (in units of the image's)."""
    z = standardised_opponent(x, stride)
    means = {k: box_mean(z, k) for k in (*mean_pools, *spread_pools)}  # each window once
    spreads = [(box_mean(z * z, k) - means[k] ** 2).clamp_min(0).add(1e-4).sqrt() for k in spread_pools]
    return torch.cat([z, *(means[k] for k in mean_pools), *spreads], dim=1)


def box_mean(t: Tensor, k: int) -> Tensor:
    """The mean over each pixel's k×k window (odd k) that lies inside the image, as
    ``avg_pool2d(t, k, 1, k // 2, count_include_pad=False)`` computes it, but from running sums: the cost does not
    grow with k (ONNX Runtime's AveragePool with a 55-px window took most of the branch's time)."""
    r = k // 2
    h, w = t.shape[-2:]

    def window_sums(u: Tensor) -> Tensor:
        u = F.pad(u, (r + 1, r, r + 1, r)).cumsum(-2).cumsum(-1)  # zero row/column first: S[i, j] = sum u[:i, :j]
        return u[..., k:, k:] - u[..., :h, k:] - u[..., k:, :w] + u[..., :h, :w]

    ones = torch.ones(1, 1, h, w, dtype=t.dtype, device=t.device)
    centre = t.mean(dim=(-2, -1), keepdim=True)  # running sums of centred values stay small: less rounding
    return window_sums(t - centre) / window_sums(ones) + centre


class ColourUNet(nn.Module):
    """Relative-colour statistics → B×``widths[0]``×H/2×W/2 features (U-Net: 1/2 → 1/16 → 1/2, with skips and a
    global-context vector at the bottom). ``mask_logits(features)`` is its own answer (B×1×H/2×W/2 logits), which
    it learns when it trains alone (:class:`~inharmony.models.colour_net.ColourNet`) and keeps when grafted."""

    def __init__(self, widths: tuple[int, int, int, int] = (24, 40, 64, 96)) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        cin = 3 * (1 + 3 + 2)
        self.enc0 = nn.Sequential(conv_bn_relu(cin, w0), conv_bn_relu(w0, w0))
        self.enc1 = nn.Sequential(_down(w0, w1), conv_bn_relu(w1, w1))
        self.enc2 = nn.Sequential(_down(w1, w2), conv_bn_relu(w2, w2))
        self.enc3 = nn.Sequential(_down(w2, w3), conv_bn_relu(w3, w3, dilation=2))
        self.context = nn.Sequential(nn.Conv2d(2 * w3, w3, 1, bias=False), nn.BatchNorm2d(w3), nn.ReLU(inplace=True))
        self.dec2 = conv_bn_relu(w3 + w2, w2)
        self.dec1 = conv_bn_relu(w2 + w1, w1)
        self.dec0 = conv_bn_relu(w1 + w0, w0)
        self.mask_head = nn.Sequential(conv_bn_relu(w0, w0), nn.Conv2d(w0, 1, 1))
        self.out_channels = w0

    def mask_logits(self, features: Tensor) -> Tensor:
        return self.mask_head(features)

    def forward(self, x: Tensor) -> Tensor:
        e0 = self.enc0(colour_statistics(x))
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e3 = self.context(torch.cat([e3, e3.mean(dim=(2, 3), keepdim=True).expand_as(e3)], dim=1))
        d2 = self.dec2(torch.cat([_up(e3, e2), e2], dim=1))
        d1 = self.dec1(torch.cat([_up(d2, e1), e1], dim=1))
        return self.dec0(torch.cat([_up(d1, e0), e0], dim=1))


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


def _up(t: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(t, size=like.shape[-2:], mode="bilinear", align_corners=False)
