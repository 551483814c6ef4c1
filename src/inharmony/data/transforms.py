"""Paired image/mask transforms of the reference pipeline (DIRL reference §3.1, §5).

Training: RandomResizedCrop(scale 0.9–1, ratio 3/4–4/3) on the original resolution, horizontal flip,
mask resized bilinearly and re-binarised at 0.5; crops whose mask has ≤ 10 foreground pixels are
re-drawn (at most ``max_tries`` times; with probability 0.05 any crop is accepted).
Test: a plain bilinear resize to S×S. Images are ImageNet-normalised.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_tensor(image: np.ndarray) -> Tensor:
    """H×W×3 uint8 → 3×H×W float in [0, 1]."""
    return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)


def normalize(image: Tensor) -> Tensor:
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    return (image - mean) / std


def denormalize(image: Tensor) -> Tensor:
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    return image * std + mean


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of a C×H×W tensor (antialiasing off, as OpenCV/albumentations)."""
    return F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]


def random_crop_box(h: int, w: int, rng: random.Random, scale=(0.9, 1.0), ratio=(3 / 4, 4 / 3)) -> tuple[int, ...]:
    """torchvision/albumentations RandomResizedCrop box ``(top, left, height, width)``."""
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, h - ch), rng.randint(0, w - cw), ch, cw
    in_ratio = w / h
    if in_ratio < ratio[0]:
        cw, ch = w, round(w / ratio[0])
    elif in_ratio > ratio[1]:
        ch, cw = h, round(h * ratio[1])
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def train_transform(
    image: Tensor, mask: Tensor, size: int, rng: random.Random, min_pixels: int = 10, max_tries: int = 10
) -> tuple[Tensor, Tensor]:
    """Augment a 3×H×W image in [0, 1] and a 1×H×W mask; returns S×S tensors (mask binary)."""
    h, w = image.shape[-2:]
    for _ in range(max_tries):
        top, left, ch, cw = random_crop_box(h, w, rng)
        m = resize(mask[:, top : top + ch, left : left + cw], (size, size))
        m = (m > 0.5).float()
        if m.sum() > min_pixels or rng.random() < 0.05:
            break
    img = resize(image[:, top : top + ch, left : left + cw], (size, size))
    if rng.random() < 0.5:
        img, m = img.flip(-1), m.flip(-1)
    return img, m


def test_transform(image: Tensor, mask: Tensor, size: int) -> tuple[Tensor, Tensor]:
    return resize(image, (size, size)), (resize(mask, (size, size)) > 0.5).float()
