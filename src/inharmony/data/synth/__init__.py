"""Realistic synthetic composites from any folder of photos, the way iHarmony4 was made.

A region of a real photo (an object-like union of image segments, a cut-out shape, or a simple
shape) gets a different colour/lighting (statistics transfer from another photo, exposure, contrast,
gamma, white balance, saturation, hue, tone curve), or an object cut-out is pasted in.
"""

from inharmony.data.synth.appearance import random_appearance
from inharmony.data.synth.generator import Composite, SyntheticDataset, make_composite, write_synthetic_dataset
from inharmony.data.synth.regions import random_region

__all__ = [
    "Composite",
    "SyntheticDataset",
    "make_composite",
    "random_appearance",
    "random_region",
    "write_synthetic_dataset",
]
