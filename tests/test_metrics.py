"""The published protocol against scikit-learn and a literal per-image transcription of it."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from inharmony.metrics import MetricAccumulator, average_precision, format_table, image_metrics


def reference_metrics(p: np.ndarray, g: np.ndarray, protocol: str):
    """The released per-image recipe, written out with numpy + scikit-learn."""
    p, g = p.astype(np.float64).ravel(), (g.ravel() > 0.5).astype(np.float64)

    def norm(x):
        lo, hi = x.min(), x.max()
        return x - lo if hi - lo < 0.01 else (x - lo) / (hi - lo)

    if protocol == "published":
        p, g = norm(p), norm(g)
    ap = average_precision_score(g, p) if g.sum() > 0 else 0.0
    b = (p > 0.5).astype(np.float64)
    tp = (b * g).sum()
    prec, rec = tp / (b.sum() + 1e-6), tp / (g.sum() + 1e-6)
    f1 = 2 * prec * rec / (prec + rec + 1e-6)
    iou = tp / (b.sum() + g.sum() - tp + 1e-6)
    return ap, f1, iou


def cases():
    rng = np.random.default_rng(0)
    g = (rng.random((16, 16)) > 0.7).astype(np.float32)
    yield "random", rng.random((16, 16)).astype(np.float32), g
    yield "ties", (rng.integers(0, 4, (16, 16)) / 4).astype(np.float32), g
    yield "informative", np.clip(g * 0.6 + rng.random((16, 16)) * 0.5, 0, 1).astype(np.float32), g
    yield "perfect", g.copy(), g
    yield "constant", np.full((16, 16), 0.3, np.float32), g
    yield "narrow range", (0.5 + 0.004 * rng.random((16, 16))).astype(np.float32), g
    yield "empty mask", rng.random((16, 16)).astype(np.float32), np.zeros((16, 16), np.float32)
    yield "all foreground", rng.random((16, 16)).astype(np.float32), np.ones((16, 16), np.float32)


@pytest.mark.parametrize("protocol", ["published", "plain"])
@pytest.mark.parametrize("case", list(cases()), ids=lambda c: c[0])
def test_matches_reference(case, protocol):
    _, p, g = case
    got = image_metrics(torch.from_numpy(p)[None], torch.from_numpy(g)[None], protocol=protocol)
    want = reference_metrics(p, g, protocol)
    for key, value in zip(("ap", "f1", "iou"), want):
        assert got[key].item() == pytest.approx(value, abs=1e-5), key


def test_ap_batch_matches_sklearn_rowwise():
    rng = np.random.default_rng(1)
    scores = rng.random((6, 500)).round(2)  # many ties
    targets = (rng.random((6, 500)) > 0.6).astype(np.float64)
    got = average_precision(torch.from_numpy(scores), torch.from_numpy(targets))
    for i in range(6):
        assert got[i].item() == pytest.approx(average_precision_score(targets[i], scores[i]), abs=1e-6)


def test_perfect_and_inverted_predictions():
    g = torch.zeros(1, 32, 32)
    g[:, 8:20, 8:20] = 1
    perfect = image_metrics(g, g)
    assert perfect["ap"].item() == pytest.approx(1.0)
    assert perfect["iou"].item() == pytest.approx(1.0, abs=1e-5)
    inverted = image_metrics(1 - g, g)
    assert inverted["iou"].item() == 0.0 and inverted["ap"].item() < 0.2


def test_published_and_plain_differ_on_low_confidence_maps():
    g = torch.zeros(1, 32, 32)
    g[:, :10] = 1
    p = g * 0.3 + 0.05  # right region, low confidence: only the published stretch recovers it
    assert image_metrics(p, g, "published")["iou"].item() == pytest.approx(1.0, abs=1e-5)
    assert image_metrics(p, g, "plain")["iou"].item() == 0.0


def test_accumulator_groups_and_formats():
    acc = MetricAccumulator()
    acc.update(
        {"ap": torch.tensor([1.0, 0.5]), "f1": torch.tensor([1.0, 0.0]), "iou": torch.tensor([1.0, 0.2])},
        ["a1", "c1"],
        ["HAdobe5k", "HCOCO"],
    )
    acc.update({"ap": torch.tensor([0.0]), "f1": torch.tensor([0.5]), "iou": torch.tensor([0.4])}, ["c2"], ["HCOCO"])
    s = acc.summary()
    assert s["HCOCO"]["n"] == 2 and s["HCOCO"]["AP"] == pytest.approx(25.0)
    assert s["overall"]["IoU"] == pytest.approx(100 * (1.0 + 0.2 + 0.4) / 3)
    assert s["overall"]["F1"] == pytest.approx(0.5)
    assert "| HCOCO | 2 |" in format_table(s)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="protocol"):
        image_metrics(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), protocol="adaptive")
    with pytest.raises(ValueError, match="shape"):
        image_metrics(torch.zeros(1, 4, 4), torch.zeros(1, 5, 4))
