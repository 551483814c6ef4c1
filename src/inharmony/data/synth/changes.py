"""The iHarmony4 kinds of appearance change, written from the dataset's description (Cong et al., CVPR 2020).

Images are H×W×3 float arrays in [0, 1]; pixel sets are N×3 in [0, 1].

- ``transfer`` (HCOCO, HFlickr): the region's colour statistics are replaced by those of a region of another
  photo: Reinhard mean/std transfer in Lab or in RGB, per-channel histogram matching, or iterative distribution
  transfer (Pitié et al.: 1-D histogram matching along random rotations).
- ``retouch`` (HAdobe5k): two complete, plausible global edits of the same photo (exposure, white balance,
  contrast, tone curve, saturation, per-channel curves as a random separable 3-D LUT); the region is taken from
  one edit and the rest from the other.
- ``lighting`` (Hday2night): another time of day for the region: colour temperature, global tone, and a soft
  shading gradient across it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from skimage import color

KINDS = ("transfer", "retouch", "lighting")
TRANSFER_METHODS = ("lab_reinhard", "rgb_reinhard", "histogram", "idt")


def _lab(pixels: np.ndarray) -> np.ndarray:
    return color.rgb2lab(pixels.reshape(-1, 1, 3)).reshape(-1, 3)


def _rgb(lab: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # out-of-gamut values are clipped, as intended
        return np.clip(color.lab2rgb(lab.reshape(-1, 1, 3)).reshape(-1, 3), 0, 1)


def reinhard(src: np.ndarray, ref: np.ndarray, space: str = "lab") -> np.ndarray:
    """Give ``src`` pixels the per-channel mean and standard deviation of ``ref`` pixels (in Lab or RGB)."""
    a, b = (_lab(src), _lab(ref)) if space == "lab" else (src, ref)
    out = (a - a.mean(0)) / (a.std(0) + 1e-6) * b.std(0) + b.mean(0)
    return _rgb(out) if space == "lab" else np.clip(out, 0, 1)


def match_1d(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Monotone map of ``values`` onto the distribution of ``reference`` (quantile matching)."""
    order = np.argsort(values, kind="stable")
    ref = np.sort(reference)
    out = np.empty_like(values)
    out[order] = np.interp(np.linspace(0, len(ref) - 1, len(values)), np.arange(len(ref)), ref)
    return out


def histogram_match(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-channel histogram matching of ``src`` pixels to ``ref`` pixels (RGB)."""
    return np.stack([match_1d(src[:, c], ref[:, c]) for c in range(3)], 1)


def idt(src: np.ndarray, ref: np.ndarray, rng: np.random.Generator, iterations: int = 8) -> np.ndarray:
    """Iterative distribution transfer: match 1-D marginals along random orthonormal bases, repeatedly."""
    out = src.copy()
    for _ in range(iterations):
        basis, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        a, b = out @ basis, ref @ basis
        matched = np.stack([match_1d(a[:, c], b[:, c]) for c in range(3)], 1)
        out = out + (matched - a) @ basis.T
    return np.clip(out, 0, 1)


def transfer(src: np.ndarray, ref: np.ndarray, method: str, rng: np.random.Generator) -> np.ndarray:
    """One of :data:`TRANSFER_METHODS` applied to region pixels ``src`` with the statistics of ``ref``."""
    if method == "lab_reinhard":
        return reinhard(src, ref, "lab")
    if method == "rgb_reinhard":
        return reinhard(src, ref, "rgb")
    if method == "histogram":
        return histogram_match(src, ref)
    if method == "idt":
        return idt(src, ref, rng)
    raise ValueError(f"unknown transfer method {method!r}; valid: {', '.join(TRANSFER_METHODS)}")


@dataclass(frozen=True)
class Edit:
    """A global photo edit, as a retoucher's: exposure (stops), white balance (RGB gains), contrast, saturation and
    per-channel tone curves (``curves``: 3×K control values at K evenly spaced inputs, a separable 3-D LUT)."""

    exposure: float
    gains: tuple[float, float, float]
    contrast: float
    saturation: float
    curves: tuple[tuple[float, ...], ...]


def random_edit(rng: np.random.Generator, amount: float = 1.0) -> Edit:
    """A plausible random edit; ``amount`` in [0, 1] scales how far it goes from the identity."""
    knots = np.linspace(0, 1, 5)
    curves = []
    shared = rng.normal(0, 0.06, 5)  # a luminance curve, plus small per-channel departures (a colour grade)
    for _ in range(3):
        c = knots + amount * (shared + rng.normal(0, 0.03, 5))
        c[0], c[-1] = amount * rng.uniform(0, 0.06), 1 - amount * rng.uniform(0, 0.08)
        curves.append(tuple(np.maximum.accumulate(np.clip(c, 0, 1))))
    temperature = rng.normal(0, 0.12) * amount  # warm (>0) or cool
    tint = rng.normal(0, 0.05) * amount
    gains = np.exp([temperature, tint, -temperature])
    return Edit(
        exposure=float(rng.normal(0, 0.45) * amount),
        gains=tuple(float(g) for g in gains / gains.mean()),
        contrast=float(np.exp(rng.normal(0, 0.2) * amount)),
        saturation=float(np.exp(rng.normal(0, 0.3) * amount)),
        curves=tuple(curves),
    )


def apply_edit(image: np.ndarray, edit: Edit) -> np.ndarray:
    """Apply an :class:`Edit` to an image (any shape ending in 3), values in [0, 1]."""
    out = np.clip(image * 2.0**edit.exposure * np.asarray(edit.gains), 0, 1)
    luma = out @ np.array([0.299, 0.587, 0.114])
    mean = float(luma.mean())
    out = np.clip((out - mean) * edit.contrast + mean, 0, 1)
    luma = (out @ np.array([0.299, 0.587, 0.114]))[..., None]
    out = np.clip(luma + (out - luma) * edit.saturation, 0, 1)
    knots = np.linspace(0, 1, len(edit.curves[0]))
    return np.stack([np.interp(out[..., c], knots, edit.curves[c]) for c in range(3)], -1)


def lighting(image: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
    """Another time of day: colour temperature, global tone and a soft shading gradient (H×W×3 image)."""
    h, w = image.shape[:2]
    warm = rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.3) * amount  # dusk (warm) or night/overcast (cool)
    gains = np.exp([warm, 0.3 * warm, -warm])
    out = image * (gains / gains.mean())
    out = np.clip(out * 2.0 ** (rng.normal(-0.3, 0.5) * amount), 0, 1) ** (2.0 ** (rng.normal(0, 0.25) * amount))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = (np.cos(angle) * xx / max(w, 1) + np.sin(angle) * yy / max(h, 1)) - 0.5
    shading = 1 + rng.uniform(0.1, 0.5) * amount * ramp
    return np.clip(out * shading[..., None], 0, 1)
