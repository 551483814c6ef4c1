"""The colour U-Net alone: a from-scratch localiser that sees nothing but relative colour statistics.

Without the ImageNet encoder it trains several times faster than the compact DIRL on the 2-core CPU, so it can
learn what the generator teaches from many more samples; its ``colour_unet`` weights then graft into
``dirl_mobilenetv2_verdict_unet`` (``model.graft``, configs/colour_graft.yaml), whose semantic features decide
which of the colour evidence is an object. With ``verdict=True`` it also answers whether there is a region at all
(:mod:`inharmony.layers.verdict_head`, on the colour features inside and outside its candidate).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers.colour_unet import ColourUNet
from inharmony.layers.verdict_head import VerdictHead, gated_logits


class ColourNet(nn.Module):
    def __init__(self, verdict: bool = True) -> None:
        super().__init__()
        self.colour_unet = ColourUNet()
        if verdict:
            self.verdict_head = VerdictHead((self.colour_unet.out_channels,))

    def forward(self, x: Tensor) -> dict:
        features = self.colour_unet(x)
        logits = F.interpolate(
            self.colour_unet.mask_logits(features), size=x.shape[-2:], mode="bilinear", align_corners=False
        )
        if not hasattr(self, "verdict_head"):
            return {"logits": logits, "attention": []}
        verdict = self.verdict_head(torch.sigmoid(logits), [features])
        return {"logits": gated_logits(logits, verdict), "mask_logits": logits, "verdict": verdict, "attention": []}
