"""A self-supervised colour-consistency embedding: "were these two patches made by the same photo's light and
processing?".

A real composite is a photo in which one region's colour or light came from elsewhere: another photo's statistics
(HCOCO, HFlickr), another retouch (HAdobe5k), another time of day (Hday2night). :class:`PatchEmbedder` maps a
patch to a vector meant to describe how it was lit and processed rather than what it shows; :class:`PairHead`
reads two vectors and says how likely they come from different processing. Both learn from authentic photos alone
(:mod:`inharmony.data.patch_pairs`): two patches of one photo are "same", a patch of another photo or of the same
photo with another photo's colour statistics, another edit or another light is "different". Neither sees a mask.

The embedder is fully convolutional (stride 8, each cell sees about 50 px), so one pass over a whole image gives
the vector of every 32-px patch at once (:func:`patch_embeddings`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.data.transforms import denormalize
from inharmony.layers.colour import conv_bn_relu, log_opponent

PATCH = 32  # training patch side; a patch is 4×4 cells of the stride-8 map
STRIDE = 8


def colour_input(x: Tensor) -> Tensor:
    """B×3×H×W ImageNet-normalised images → B×6×H×W: RGB in [0, 1] and log-opponent colour (absolute, not
    normalised per image: the cast of the light is the evidence)."""
    rgb = denormalize(x).clamp(1e-3, 1.0)
    return torch.cat([rgb, log_opponent(rgb)], dim=1)


class PatchEmbedder(nn.Module):
    """B×3×H×W (ImageNet-normalised) → B×``dim``×H/8×W/8 cell features (pool 4×4 cells for a 32-px patch).

    ``smooth`` (odd, > 1): a ``smooth``×``smooth`` box blur of the input first, so that only colour and light,
    not sensor noise, JPEG blocks or texture, can tell two patches apart (0: none)."""

    def __init__(self, dim: int = 64, width: int = 32, smooth: int = 0) -> None:
        super().__init__()
        if smooth > 1 and smooth % 2 == 0:
            raise ValueError(f"smooth must be odd (a centred box blur), got {smooth}")
        self.smooth = smooth
        self.body = nn.Sequential(
            conv_bn_relu(6, width),
            nn.MaxPool2d(2),
            conv_bn_relu(width, 2 * width),
            nn.MaxPool2d(2),
            conv_bn_relu(2 * width, 2 * width),
            nn.MaxPool2d(2),
            conv_bn_relu(2 * width, 4 * width),
            conv_bn_relu(4 * width, 4 * width),
            nn.Conv2d(4 * width, dim, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = colour_input(x)
        if self.smooth > 1:
            k = self.smooth
            x = F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)
        return self.body(x)

    def embed(self, patches: Tensor) -> Tensor:
        """B×3×P×P patches → B×dim vectors (the mean over the patch's cells)."""
        return self(patches).mean(dim=(2, 3))


class PairHead(nn.Module):
    """Two B×dim (or broadcastable) vectors → logits of "different processing"; symmetric in its two inputs."""

    def __init__(self, dim: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        a, b = torch.broadcast_tensors(a, b)
        return self.mlp(torch.cat([(a - b).abs(), a * b], dim=-1)).squeeze(-1)


def patch_embeddings(embedder: PatchEmbedder, x: Tensor) -> Tensor:
    """B×3×H×W → B×dim×H/8×W/8: the vector of the 32-px patch around every cell (4×4 cells averaged)."""
    cells = embedder(x)
    return F.avg_pool2d(F.pad(cells, (1, 2, 1, 2), mode="replicate"), PATCH // STRIDE, stride=1)


def inconsistency_map(embeddings: Tensor, head: PairHead, references: int = 64) -> Tensor:
    """B×dim×h×w patch vectors → B×1×h×w: for each patch, the mean probability that it was processed unlike the
    patches of the image (about ``references`` cells on a regular grid serve as references), each reference
    weighted by how consistent it is with the image itself, so that the majority decides."""
    b, d, h, w = embeddings.shape
    reference_stride = max(1, round((h * w / references) ** 0.5))
    cells = embeddings.flatten(2).transpose(1, 2)  # B×N×d
    refs = embeddings[:, :, ::reference_stride, ::reference_stride].flatten(2).transpose(1, 2)  # B×M×d
    prob = torch.sigmoid(head(cells[:, :, None, :], refs[:, None, :, :]))  # B×N×M
    ref_prob = torch.sigmoid(head(refs[:, :, None, :], refs[:, None, :, :]))  # B×M×M
    weight = (1.0 - ref_prob.mean(dim=2)).clamp_min(1e-3)  # a reference unlike most others counts less
    score = (prob * weight[:, None, :]).sum(dim=2) / weight.sum(dim=1, keepdim=True)
    return score.view(b, 1, h, w)


def standing_out(score: Tensor, level: Tensor, leak: float = 0.01) -> Tensor:
    """B×1×h×w inconsistency scores → how far each stands out above ``level`` (B: the image majority's own
    level, what an unsure pair head gives any two patches of this image), rescaled so that 1 is "certainly unlike
    the rest"; a ``leak`` of the raw score keeps the order of every pixel (and so AP)."""
    base = level.view(-1, 1, 1, 1)
    excess = ((score - base) / (1.0 - base).clamp_min(1e-3)).clamp(0.0, 1.0)
    return (1.0 - leak) * excess + leak * score


def majority_level(score: Tensor) -> Tensor:
    """B×1×h×w scores → B: the median score (the lower middle, as ``torch.median``), the level of the image's
    majority of patches; written with ``topk`` so that it exports to ONNX."""
    flat = score.flatten(1)
    return flat.topk((flat.shape[1] - 1) // 2 + 1, dim=1, largest=False).values[:, -1]
