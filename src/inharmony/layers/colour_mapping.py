"""MadisNet's learnable colour mapping (DIRL reference §7.1, "iHDRNet"), light and warm-start friendly.

Idea (Liang et al., AAAI 2022): before localising, map the image into a colour space where the foreground's
discrepancy with the background is *magnified*. A coefficient stream predicts a bilateral grid of per-pixel
3×4 affine colour transforms (spatial bins × luminance bins); a guide map chooses the luminance bin of every
pixel; trilinear slicing gives each pixel its transform.

Kept from the reference: central-difference convolutions (θ = 0.7) in the coefficient stream, a self-attention
block on the coarsest map, the 16×16 spatial grid, the tanh guide, slicing with ``grid_sample``. Changed, for a
2-core CPU and a localiser warm-started on ImageNet-normalised photos: fewer channels (8→64 instead of 16→128,
about 0.1 M parameters instead of 1.47 M), 8 luminance bins, and a *residual* mapping ``x̃ = x + A(x)·[x, 1]``
whose grid starts at zero, so the mapped image starts as the input and is re-normalised the way the localiser
expects (not clamped: a clamp stops the gradient where the mapping overshoots). The reference's domain encoder
(VGG-16 partial convolutions with the magnification loss) only supplies a training signal; it is not used here:
the mapping learns from the localisation loss alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.data.transforms import IMAGENET_MEAN, IMAGENET_STD


class CentralDifferenceConv(nn.Module):
    """3×3 convolution minus θ times its kernel's sum applied to the centre pixel: responds to local contrast."""

    def __init__(self, cin: int, cout: int, theta: float = 0.7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.theta = theta

    def forward(self, x: Tensor) -> Tensor:
        centre = F.conv2d(x, self.conv.weight.sum(dim=(2, 3), keepdim=True))
        return self.conv(x) - self.theta * centre


class SelfAttention(nn.Module):
    """SAGAN-style self-attention with a zero-initialised residual weight γ."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.q = nn.Conv2d(channels, channels // 8, 1)
        self.k = nn.Conv2d(channels, channels // 8, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # B×N×C'
        k = self.k(x).flatten(2)  # B×C'×N
        attn = torch.softmax(q @ k / q.shape[-1] ** 0.5, dim=-1)  # B×N×N
        out = (self.v(x).flatten(2) @ attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * out


class ColourMapper(nn.Module):
    """B×3×H×W ImageNet-normalised images → the same images after a learned, spatially varying colour mapping
    (ImageNet-normalised again). ``grid``: spatial bins per side; ``bins``: luminance bins."""

    def __init__(self, widths: tuple[int, ...] = (8, 16, 32, 64), grid: int = 16, bins: int = 8) -> None:
        super().__init__()
        self.grid, self.bins = grid, bins
        layers, cin = [], 3
        for cout in widths:
            layers += [CentralDifferenceConv(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = cout
        self.stream = nn.Sequential(*layers)
        self.attention = SelfAttention(cin)
        self.coefficients = nn.Conv2d(cin, 12 * bins, 1)
        nn.init.zeros_(self.coefficients.weight)
        nn.init.zeros_(self.coefficients.bias)
        self.guide = nn.Sequential(nn.Conv2d(3, 16, 1), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.Conv2d(16, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        rgb = x * std + mean
        low = F.interpolate(x, size=(self.grid * 16, self.grid * 16), mode="bilinear", align_corners=False)
        feats = self.attention(self.stream(low))
        feats = F.adaptive_avg_pool2d(feats, self.grid)
        grid = self.coefficients(feats).view(b, 12, self.bins, self.grid, self.grid)  # B×12×D×Gh×Gw
        guide = torch.tanh(self.guide(x))  # B×1×H×W in [-1, 1]
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, h, 1).expand(b, h, w)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype).view(1, 1, w).expand(b, h, w)
        where = torch.stack([xs, ys, guide[:, 0]], dim=-1).unsqueeze(1)  # B×1×H×W×3 (x, y, luminance)
        affine = F.grid_sample(grid, where, mode="bilinear", align_corners=True).squeeze(2)  # B×12×H×W
        affine = affine.view(b, 3, 4, h, w)
        delta = (affine[:, :, :3] * rgb.unsqueeze(1)).sum(dim=2) + affine[:, :, 3]
        # no clamp to [0, 1]: it would stop the gradient wherever the mapping overshoots
        return (rgb + delta - mean) / std
