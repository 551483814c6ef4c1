"""Feature encoders for DIRL: five feature maps, each at half the resolution of the previous one.

``out_channels`` lists the channels of the five maps and ``strides`` their downsampling factors.
ImageNet weights are opt-in and come from a local torchvision ``.pth`` file; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import mobilenet_v2, resnet34
from torchvision.models.resnet import BasicBlock


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a plain state dict (torchvision ``.pth`` or ``.safetensors``) safely, naming the file on error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"encoder weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"could not read encoder weights from {path}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    return state


def load_into(module: nn.Module, state: dict[str, Tensor], prefix_map: dict[str, str], source: str | Path) -> None:
    """Strictly load the entries of ``state`` whose key starts with a ``prefix_map`` key into ``module``."""
    picked = {}
    for key, value in state.items():
        for src, dst in prefix_map.items():
            if key.startswith(src):
                picked[dst + key[len(src) :]] = value
    expected = module.state_dict()
    missing = sorted(k for k in expected if k not in picked)
    unexpected = sorted(k for k in picked if k not in expected)
    wrong = sorted(k for k in picked if k in expected and picked[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(
            f"encoder weights in {source} do not match: missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}, wrong shape {wrong[:5]}"
        )
    # nn.Module.load_state_dict, called unbound: smp's encoders override it (to drop classifier keys)
    nn.Module.load_state_dict(module, picked, strict=True)


class ResNet34Encoder(nn.Module):
    """DIRL's encoder: stride-1 3×3 stem, ResNet-34 layer1–4, extra stage (max-pool + 3 BasicBlocks).

    Input B×3×H×W (ImageNet-normalised) → maps of 64@H, 128@H/2, 256@H/4, 512@H/8, 512@H/16.
    Only layer1–4 take the ImageNet weights; the stem and the extra stage start from scratch.
    """

    out_channels = (64, 128, 256, 512, 512)
    strides = (1, 2, 4, 8, 16)

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        backbone = resnet34(weights=None)
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=True), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        self.layer1, self.layer2 = backbone.layer1, backbone.layer2
        self.layer3, self.layer4 = backbone.layer3, backbone.layer4
        self.layer5 = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), *(BasicBlock(512, 512) for _ in range(3)))
        if weights is not None:
            layers = nn.ModuleDict({f"layer{i}": getattr(self, f"layer{i}") for i in range(1, 5)})
            load_into(layers, load_state_dict_file(weights), {f"layer{i}.": f"layer{i}." for i in range(1, 5)}, weights)

    def forward(self, x: Tensor) -> list[Tensor]:
        e1 = self.layer1(self.stem(x))
        e2 = self.layer2(e1)
        e3 = self.layer3(e2)
        e4 = self.layer4(e3)
        return [e1, e2, e3, e4, self.layer5(e4)]


class MobileNetV2Encoder(nn.Module):
    """Compact encoder: torchvision MobileNetV2 ``features[0:18]`` cut into five stages.

    Input B×3×H×W → maps of 16@H/2, 24@H/4, 32@H/8, 96@H/16, 320@H/32.
    """

    out_channels = (16, 24, 32, 96, 320)
    strides = (2, 4, 8, 16, 32)
    _cuts = (0, 2, 4, 7, 14, 18)

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        features = mobilenet_v2(weights=None).features
        if weights is not None:
            load_into(features, load_state_dict_file(weights), {"features.": ""}, weights)
        c = self._cuts
        self.stages = nn.ModuleList(nn.Sequential(*features[c[i] : c[i + 1]]) for i in range(5))

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


ENCODERS: dict[str, type[nn.Module]] = {"resnet34": ResNet34Encoder, "mobilenetv2": MobileNetV2Encoder}


def create_encoder(name: str, weights: str | Path | None = None) -> nn.Module:
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; valid: {', '.join(sorted(ENCODERS))}")
    return ENCODERS[name](weights=weights)
