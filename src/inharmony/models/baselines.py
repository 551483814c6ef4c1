"""Baselines of the DIRL paper's table, built from maintained libraries where they fit.

All return the same output dict as DIRL (``logits`` B×1×H×W, ``attention`` empty), so one engine trains
and evaluates them. What each follows and what differs is in ``docs/experiments.md``.

- ``unet``: U-Net (Ronneberger et al., 2015) with a ResNet-34 encoder, smp's ``Unet``.
- ``deeplabv3``: DeepLabv3 (Chen et al., 2017) with a ResNet-34 encoder (the paper used a larger ResNet), smp.
- ``unet_mobilenetv2``, ``deeplabv3_mobilenetv2``: the same two on the compact DIRL's MobileNetV2 encoder, so that
  all three can start from the same ImageNet weights file.
- ``hrnet``: HRNet-W18-small (Wang et al., 2020) from timm, all branches upsampled to 1/4, concatenated,
  and a 3×3 + 1×1 head (the HRNetV2 segmentation head).
- ``mantranet_lite``: in the spirit of ManTra-Net (Wu et al., 2019): manipulation-trace features (fixed SRM
  high-pass filters, a Bayar-constrained convolution and plain convolutions) followed by local anomaly
  detection (feature z-scores against local windows of several sizes and the whole image). Differences: a
  small convolutional encoder instead of VGG, convolutions instead of the ConvLSTM, no pretraining on
  manipulation types.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.models.encoders import load_into, load_state_dict_file

# Which entries of a local torchvision ImageNet file go into smp's encoder (smp's ResNet and MobileNetV2
# encoders subclass torchvision's models, so the keys are the same; the classifier is left out).
_TORCHVISION_PREFIXES = {
    "resnet34": {"conv1.": "conv1.", "bn1.": "bn1."} | {f"layer{i}.": f"layer{i}." for i in range(1, 5)},
    "mobilenet_v2": {"features.": "features."},
}


class SMPBaseline(nn.Module):
    """An smp segmentation model (``Unet``, ``DeepLabV3``) on a ResNet-34 or MobileNetV2 encoder.

    ``encoder_weights`` is a local torchvision ImageNet file of that encoder (nothing is downloaded).
    """

    def __init__(self, arch: str = "Unet", encoder: str = "resnet34", encoder_weights: str | Path | None = None):
        super().__init__()
        import segmentation_models_pytorch as smp

        if encoder not in _TORCHVISION_PREFIXES:
            raise ValueError(f"unsupported encoder {encoder!r} for {arch}; valid: {sorted(_TORCHVISION_PREFIXES)}")
        self.net = getattr(smp, arch)(encoder, encoder_weights=None, classes=1)
        if encoder_weights is not None:
            state = load_state_dict_file(encoder_weights)
            load_into(self.net.encoder, state, _TORCHVISION_PREFIXES[encoder], encoder_weights)

    def forward(self, x: Tensor) -> dict:
        return {"logits": self.net(x), "attention": []}


class HRNetBaseline(nn.Module):
    def __init__(self, variant: str = "hrnet_w18_small", head_channels: int = 64) -> None:
        super().__init__()
        import timm

        self.backbone = timm.create_model(variant, pretrained=False, features_only=True)
        channels = self.backbone.feature_info.channels()[1:]
        self.head = nn.Sequential(
            nn.Conv2d(sum(channels), head_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(head_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(head_channels, 1, 1),
        )

    def forward(self, x: Tensor) -> dict:
        feats = self.backbone(x)[1:]
        size = feats[0].shape[-2:]
        fused = torch.cat(
            [feats[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in feats[1:]], dim=1
        )
        logits = F.interpolate(self.head(fused), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"logits": logits, "attention": []}


def srm_kernels() -> Tensor:
    """The three classic SRM high-pass residual filters (5×5), as used by ManTra-Net and RGB-N."""
    k1 = torch.tensor([[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]]) / 4
    k2 = (
        torch.tensor(
            [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]
        )
        / 12
    )
    k3 = torch.tensor([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]) / 2
    return torch.stack([k1, k2, k3]).float()


class BayarConv2d(nn.Module):
    """Constrained convolution (Bayar & Stamm, 2018): centre weight −1, the others sum to 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 5) -> None:
        super().__init__()
        self.kernel = kernel
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel * kernel - 1) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight / self.weight.sum(-1, keepdim=True).clamp_min(1e-6)
        centre = (self.kernel * self.kernel) // 2
        full = torch.cat([w[..., :centre], -torch.ones_like(w[..., :1]), w[..., centre:]], dim=-1)
        full = full.view(*w.shape[:2], self.kernel, self.kernel)
        return F.conv2d(x, full, padding=self.kernel // 2)


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class MantraNetLite(nn.Module):
    def __init__(self, width: int = 64, windows: tuple[int, ...] = (7, 15, 31)) -> None:
        super().__init__()
        self.register_buffer("srm", srm_kernels()[:, None].repeat(3, 1, 1, 1), persistent=False)
        self.bayar = BayarConv2d(3, 3)
        self.rgb = nn.Conv2d(3, 10, 5, padding=2)
        self.encoder = nn.Sequential(
            conv_bn_relu(22, 32),
            conv_bn_relu(32, width, 2),
            conv_bn_relu(width, width),
            conv_bn_relu(width, 2 * width, 2),
            conv_bn_relu(2 * width, 2 * width),
        )
        self.windows = windows
        c = 2 * width
        self.detector = nn.Sequential(
            conv_bn_relu(c * (len(windows) + 1), c), conv_bn_relu(c, c // 2), nn.Conv2d(c // 2, 1, 1)
        )

    def forward(self, x: Tensor) -> dict:
        srm = F.conv2d(x, self.srm, padding=2, groups=3)
        f = self.encoder(torch.cat([srm, self.bayar(x), self.rgb(x)], dim=1))
        zs = []
        for k in self.windows:
            mean = F.avg_pool2d(f, k, 1, k // 2, count_include_pad=False)
            var = F.avg_pool2d(f * f, k, 1, k // 2, count_include_pad=False) - mean**2
            zs.append((f - mean) / (var.clamp_min(0) + 1e-3).sqrt())
        g_mean, g_var = f.mean((2, 3), keepdim=True), f.var((2, 3), keepdim=True)
        zs.append((f - g_mean) / (g_var + 1e-3).sqrt())
        logits = self.detector(torch.cat(zs, dim=1))
        return {
            "logits": F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False),
            "attention": [],
        }
