"""DIRL: encoder → five BFI → five MDA → GGD → 1×1 head (DIRL reference §1)."""

from __future__ import annotations

from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers import MDA, BFIThree, BFITwo, GGDDecoder
from inharmony.models.encoders import create_encoder


class DIRL(nn.Module):
    """Deep Inharmonious Region Localization network.

    ``forward(x)`` takes B×3×H×W ImageNet-normalised images and returns a dict:

    - ``"logits"``: B×1×H×W mask logits (apply ``sigmoid`` for probabilities);
    - ``"attention"``: list of five B×1×H×W MDA spatial maps (probabilities), finest (A0) first,
      bilinearly upsampled to H×W. The engine supervises them with the mask.

    H and W should be multiples of the encoder's deepest stride (16 for ResNet-34, 32 for MobileNetV2).
    """

    def __init__(
        self, encoder: str = "resnet34", decoder_channels: int = 32, encoder_weights: str | Path | None = None
    ) -> None:
        super().__init__()
        self.encoder = create_encoder(encoder, weights=encoder_weights)
        c0, c1, c2, c3, c4 = self.encoder.out_channels
        d = decoder_channels
        self.bfi = nn.ModuleList(
            [
                BFITwo(c0, c1, d, mode="h2l"),
                BFIThree(c0, c1, c2, d),
                BFIThree(c1, c2, c3, d),
                BFIThree(c2, c3, c4, d),
                BFITwo(c3, c4, d, mode="l2h"),
            ]
        )
        self.mda = nn.ModuleList(MDA(d) for _ in range(5))
        self.decoder = GGDDecoder(d, num_blocks=3)

    def forward(self, x: Tensor) -> dict[str, Tensor | list[Tensor]]:
        size = x.shape[-2:]
        e = self.encoder(x)
        fused = [
            self.bfi[0](e[0], e[1]),
            self.bfi[1](e[0], e[1], e[2]),
            self.bfi[2](e[1], e[2], e[3]),
            self.bfi[3](e[2], e[3], e[4]),
            self.bfi[4](e[3], e[4]),
        ]
        refined, attention = zip(*(mda(f) for mda, f in zip(self.mda, fused)))
        # F'_0 feeds only the auxiliary loss through its attention map, as in the reference.
        logits = self.decoder(list(refined[1:]))
        if logits.shape[-2:] != size:
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        attention = [F.interpolate(a, size=size, mode="bilinear", align_corners=False) for a in attention]
        return {"logits": logits, "attention": attention}
