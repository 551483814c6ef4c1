"""Copy-paste composites: an object cut from one photo and pasted into another, as most real composites are made.

The iHarmony4 kinds of change recolour a region *in place*; the composites people make (and most harmonization
papers' inputs) paste an object from another photo, whose light, colour, sharpness and noise were never those of
the new scene. :func:`paste_object` scales the donor's region to a drawn area, places it at a random position
where it fits, and alpha-blends it (feathered half the time). The pair's authentic twin is the *donor photo*:
the same object, unchanged, in the scene it was photographed in. So the presence of an object never predicts
the label, only whether it belongs to the light of its surroundings.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from inharmony.data.synth.regions import feather


def paste_object(
    image: np.ndarray,
    donor: np.ndarray,
    region: np.ndarray,
    area: float,
    rng: np.random.Generator,
    feathered: bool,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Paste ``donor``'s bool ``region`` (same H×W as ``donor``) into ``image`` (H×W×3 uint8) at about ``area``
    of the image. Returns (composite H×W×3 uint8, bool region where it landed), or None when the region is
    empty or cannot fit."""
    ys, xs = np.nonzero(region)
    if ys.size < 16:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    obj, cut = donor[y0:y1, x0:x1], region[y0:y1, x0:x1]
    h, w = image.shape[:2]
    scale = np.sqrt(area * h * w / cut.sum())
    scale = min(scale, 0.95 * h / cut.shape[0], 0.95 * w / cut.shape[1])
    oh, ow = max(4, round(cut.shape[0] * scale)), max(4, round(cut.shape[1] * scale))
    if oh >= h or ow >= w:
        return None
    obj = np.asarray(Image.fromarray(obj).resize((ow, oh), Image.BILINEAR))
    cut = np.asarray(Image.fromarray(cut.astype(np.uint8) * 255).resize((ow, oh), Image.BILINEAR)) > 127
    cut = ndimage.binary_fill_holes(cut)
    if cut.sum() < 16:
        return None
    top, left = int(rng.integers(0, h - oh + 1)), int(rng.integers(0, w - ow + 1))
    landed = np.zeros((h, w), bool)
    landed[top : top + oh, left : left + ow] = cut
    layer = image.copy()
    layer[top : top + oh, left : left + ow] = obj
    alpha = feather(landed, rng) if feathered else landed.astype(np.float32)
    comp = image.astype(np.float32) * (1 - alpha[..., None]) + layer.astype(np.float32) * alpha[..., None]
    return np.rint(comp).clip(0, 255).astype(np.uint8), landed
