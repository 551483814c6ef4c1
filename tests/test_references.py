import numpy as np
import pytest
import torch

from inharmony.data.transforms import normalize
from inharmony.metrics import image_metrics
from inharmony.models import create_model


def shifted_patch_image(seed: int = 0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96] / 96
    img = np.stack([0.4 + 0.2 * xx, 0.5 + 0.1 * yy, 0.3 + 0.1 * xx * yy], -1) + rng.normal(0, 0.01, (96, 96, 3))
    mask = np.zeros((96, 96), np.float32)
    mask[30:60, 20:55] = 1
    img[mask > 0] = np.clip(img[mask > 0] * [1.6, 0.7, 0.5], 0, 1)
    return normalize(torch.from_numpy(img.clip(0, 1)).permute(2, 0, 1).float())[None], torch.from_numpy(mask)[None]


@pytest.mark.parametrize("name", ["reference_whole_image", "reference_centre_prior", "reference_colour_stats"])
def test_reference_outputs(name):
    x, _ = shifted_patch_image()
    out = create_model(name)(x)
    assert out["logits"].shape == (1, 1, 96, 96) and torch.isfinite(out["logits"]).all()


def test_colour_stats_finds_a_strong_shift_and_beats_priors():
    x, mask = shifted_patch_image()
    scores = {}
    for name in ("reference_whole_image", "reference_centre_prior", "reference_colour_stats"):
        prob = torch.sigmoid(create_model(name)(x)["logits"])[:, 0]
        scores[name] = image_metrics(prob, mask)["iou"].item()
    assert scores["reference_colour_stats"] > 0.7
    assert scores["reference_colour_stats"] > scores["reference_centre_prior"] > scores["reference_whole_image"] == 0
