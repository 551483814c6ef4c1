"""Colour and lighting changes for a region, as iHarmony4's retouching and colour transfer did.

Images are H×W×3 float arrays in [0, 1]. ``strength`` in (0, 1] scales every change, so subtle
composites are as easy to make as obvious ones.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage import color, exposure


def lab_transfer(image: np.ndarray, region: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Reinhard transfer: give the region's Lab mean/std those of ``reference`` pixels (N×3 in [0, 1])."""
    lab = color.rgb2lab(image)
    ref = color.rgb2lab(reference.reshape(-1, 1, 3)).reshape(-1, 3)
    src = lab[region]
    mu_s, sd_s = src.mean(0), src.std(0) + 1e-6
    mu_r, sd_r = ref.mean(0), ref.std(0) + 1e-6
    out = (lab - mu_s) / sd_s * sd_r + mu_r
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # out-of-gamut Lab values are clipped, as intended
        return np.clip(color.lab2rgb(out), 0, 1)


def histogram_transfer(image: np.ndarray, region: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Match the region's per-channel histograms to those of ``reference`` pixels."""
    out = image.copy()
    matched = exposure.match_histograms(image[region][None], reference.reshape(1, -1, 3), channel_axis=-1)[0]
    out[region] = matched
    return out


def hsv_change(image: np.ndarray, hue: float, saturation: float) -> np.ndarray:
    hsv = color.rgb2hsv(image)
    hsv[..., 0] = (hsv[..., 0] + hue) % 1.0
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
    return color.hsv2rgb(hsv)


def tone_curve(image: np.ndarray, amount: float) -> np.ndarray:
    """An S-curve (amount > 0) or its inverse (amount < 0)."""
    s = 0.5 - 0.5 * np.cos(np.pi * image)
    return np.clip(image + amount * (s - image), 0, 1)


GLOBAL_OPS = ("exposure", "contrast", "gamma", "white_balance", "saturation", "hue", "tone_curve")


def apply_op(op: str, image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    u = lambda lo, hi: float(rng.uniform(lo, hi)) * strength  # noqa: E731
    if op == "exposure":
        return np.clip(image * 2.0 ** (np.sign(rng.uniform(-1, 1)) * max(0.25 * strength, abs(u(-1.2, 1.2)))), 0, 1)
    if op == "contrast":
        mean = image.mean(axis=(0, 1), keepdims=True)
        return np.clip(mean + (image - mean) * (1 + u(-0.6, 0.6)), 0, 1)
    if op == "gamma":
        return np.clip(image, 0, 1) ** (2.0 ** u(-1.0, 1.0))
    if op == "white_balance":
        gains = 1 + rng.uniform(-0.35, 0.35, 3) * strength
        return np.clip(image * gains / gains.mean(), 0, 1)
    if op == "saturation":
        return hsv_change(image, 0.0, 1 + u(-0.8, 0.8))
    if op == "hue":
        return hsv_change(image, u(-0.12, 0.12), 1.0)
    if op == "tone_curve":
        return tone_curve(image, u(-1.0, 1.0))
    raise ValueError(f"unknown appearance op {op!r}; valid: {', '.join(GLOBAL_OPS)}")


def random_appearance(
    image: np.ndarray,
    region: np.ndarray,
    rng: np.random.Generator,
    strength: float = 1.0,
    reference: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Return the whole image with a new appearance (the caller blends it in the region) and the ops used.

    With ``reference`` pixels (from another photo or region), half of the time the change starts
    from a Lab statistics or histogram transfer, like HCOCO/HFlickr; otherwise 1–3 retouching ops.
    """
    out, ops = image, []
    if reference is not None and len(reference) > 16 and rng.random() < 0.5:
        op = "lab_transfer" if rng.random() < 0.6 else "histogram_transfer"
        transferred = (lab_transfer if op == "lab_transfer" else histogram_transfer)(image, region, reference)
        out = image + strength * (transferred - image)
        ops.append(op)
    for op in rng.choice(GLOBAL_OPS, size=int(rng.integers(1 if ops else 1, 4)), replace=False):
        out = apply_op(str(op), out, rng, strength)
        ops.append(str(op))
    return np.clip(out, 0, 1), ops
