"""A random global look for a whole photo crop, before any region is changed (``data.photo_jitter``).

A change of the *whole* photo (white balance, exposure, contrast, saturation) leaves it consistent: it is still
authentic, and a region changed afterwards is as inharmonious as before. Drawing such a look for every training
crop means the network cannot learn what each of the ~1,100 training photos "really" looks like (it sees every
photo many times, composite and authentic twin alike) and has to judge a region against the rest of the same image;
authentic photos with a colour cast or a filter (common in the wild) become ordinary training negatives. A pasted
object keeps the look of its own photo, as a real paste does.

``strength`` scales every range: 0 returns the crop unchanged; 1 draws per-channel gains in ±10 %, gamma in
×/÷ 1.3, contrast in ×/÷ 1.25 and saturation in ×/÷ 1.4 (log-uniform). The operations are torchvision's.
"""

from __future__ import annotations

import math

import numpy as np
import torchvision.transforms.v2.functional as TF
from PIL import Image

GAIN, GAMMA, CONTRAST, SATURATION = 0.10, 1.3, 1.25, 1.4


def _log_uniform(rng: np.random.Generator, factor: float, strength: float) -> float:
    return math.exp(rng.uniform(-1.0, 1.0) * math.log(factor) * strength)


def random_look(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """H×W×3 uint8 crop → the same crop under a random global look (uint8); ``strength`` ≥ 0 (see the module)."""
    if strength < 0 or not math.isfinite(strength):
        raise ValueError(f"photo_jitter strength must be a finite number ≥ 0, got {strength}")
    if strength == 0:
        return image
    gains = 1.0 + rng.uniform(-GAIN, GAIN, size=3) * strength
    gamma = _log_uniform(rng, GAMMA, strength)
    contrast = _log_uniform(rng, CONTRAST, strength)
    saturation = _log_uniform(rng, SATURATION, strength)
    balanced = np.clip(image.astype(np.float32) * gains, 0, 255).round().astype(np.uint8)
    out = TF.adjust_gamma(Image.fromarray(balanced), gamma)
    out = TF.adjust_contrast(out, contrast)
    out = TF.adjust_saturation(out, saturation)
    return np.asarray(out)
