"""A light colour stream: colour relative to the rest of the image, learned from scratch at low resolution.

ImageNet encoders are trained to ignore colour shifts, which is exactly the evidence an inharmonious region
leaves. This stream sees colour directly: the image in an opponent colour space (luminance, red–green,
yellow–blue, on log intensities so a lighting gain is an offset), each channel standardised by the image's own
mean and spread, and the difference between local means (3 neighbourhood sizes) and the image mean. A few
convolutions at 1/4 resolution turn that into ``channels`` features. :class:`ColourHead` fuses them with a
semantic feature map into a logit *correction* whose last layer starts at zero, so a warm-started DIRL keeps its
output until the stream has learned something.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.data.transforms import denormalize

# log RGB → (luminance, red–green, yellow–blue), rows orthonormal
_OPPONENT = torch.tensor(
    [[1 / 3**0.5, 1 / 3**0.5, 1 / 3**0.5], [1 / 2**0.5, -1 / 2**0.5, 0.0], [1 / 6**0.5, 1 / 6**0.5, -2 / 6**0.5]]
)


def log_opponent(rgb: Tensor) -> Tensor:
    """B×3×H×W RGB in (0, 1] → B×3×H×W (luminance, red–green, yellow–blue) of log intensities."""
    return torch.einsum("oc,bchw->bohw", _OPPONENT.to(rgb), torch.log(rgb))


def standardised_opponent(x: Tensor, stride: int) -> Tensor:
    """B×3×H×W ImageNet-normalised images → B×3×H/stride×W/stride log-opponent colour, each channel standardised
    by the image's own mean and spread (so a colour cast or a gain of the whole image cancels)."""
    rgb = denormalize(x).clamp(1e-3, 1.0)
    if stride > 1:
        rgb = F.avg_pool2d(rgb, stride)  # colour needs no fine detail
    opp = log_opponent(rgb)
    mu = opp.mean(dim=(2, 3), keepdim=True)
    sd = opp.std(dim=(2, 3), keepdim=True) + 0.05
    return (opp - mu) / sd


def colour_features(x: Tensor, pools: tuple[int, ...] = (3, 9, 27)) -> Tensor:
    """B×3×H×W ImageNet-normalised images → B×(3 + 3·len(pools))×H/4×W/4 relative-colour features."""
    z = standardised_opponent(x, 4)
    local = [F.avg_pool2d(z, k, stride=1, padding=k // 2, count_include_pad=False) for k in pools]
    return torch.cat([z, *local], dim=1)


def conv_bn_relu(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ColourStream(nn.Module):
    """Relative-colour features at 1/4 resolution: B×3×H×W → B×``channels``×H/4×W/4."""

    def __init__(self, channels: int = 32, pools: tuple[int, ...] = (3, 9, 27)) -> None:
        super().__init__()
        self.pools = pools
        cin = 3 * (1 + len(pools))
        self.body = nn.Sequential(
            conv_bn_relu(cin, channels),
            conv_bn_relu(channels, channels, dilation=2),
            conv_bn_relu(channels, channels, dilation=4),
            conv_bn_relu(channels, channels, dilation=8),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(colour_features(x, self.pools))


class ColourHead(nn.Module):
    """Logit correction from colour features and a semantic feature map (both resized to the colour stream's
    resolution). The final 1×1 convolution is zero-initialised."""

    def __init__(self, colour_channels: int, semantic_channels: int, channels: int = 32) -> None:
        super().__init__()
        self.fuse = nn.Sequential(
            conv_bn_relu(colour_channels + semantic_channels, channels),
            conv_bn_relu(channels, channels, dilation=2),
        )
        self.out = nn.Conv2d(channels, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, colour: Tensor, semantic: Tensor) -> Tensor:
        semantic = F.interpolate(semantic, size=colour.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(self.fuse(torch.cat([colour, semantic], dim=1)))
