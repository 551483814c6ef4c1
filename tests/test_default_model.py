"""The model shipped in the package: loads strictly, predicts at the input's size, and beats the references
on composites with strong colour shifts made from photos it never saw (scikit-image's stereo motorcycle pair,
not part of the training corpus)."""

import numpy as np
import pytest
import torch
from skimage import data

from inharmony.checkpoint import load_model, read_model_file
from inharmony.data.synth import make_composite
from inharmony.inference import Predictor
from inharmony.inference.predictor import onnxruntime_available, resolve_model_path, shipped_models
from inharmony.metrics import image_metrics
from inharmony.verdict import Calibration


def test_default_model_is_shipped_and_loads_strictly():
    assert "default" in shipped_models()
    path = resolve_model_path("default")
    assert path.stat().st_size <= 30 * 1024 * 1024
    meta, state = read_model_file(path)
    assert meta["model_name"] == "dirl_mobilenetv2_verdict"  # v2: the verdict gates the mask
    assert {"size", "scores", "training"} <= set(meta["info"])
    assert meta["model_config"]["flip_test"]  # v2.1: each photo is averaged with its mirror image
    calibration = Calibration.from_info(meta["info"])  # v2.2 since session 9: the score is a probability
    assert calibration is not None and meta["info"]["calibration"]["prior"] == pytest.approx(1 / 3, abs=1e-3)
    onnx = Predictor.from_checkpoint("default", backend="onnx") if onnxruntime_available() else None
    assert onnx is None or onnx.calibration == calibration  # the ONNX graph ships the same calibration
    model = load_model(path)  # strict: every key present, no extra
    assert sum(p.numel() for p in model.parameters()) > 3_000_000


@pytest.fixture(scope="module")
def composites():
    left, right, _ = data.stereo_motorcycle()
    out = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        real, ref = (left, right) if seed % 2 == 0 else (right, left)
        out.append(make_composite(real, rng, ref, strength=(0.8, 1.0), min_delta=15, area=(0.03, 0.4)))
    return out


def mean_scores(predictor: Predictor, composites) -> dict[str, float]:
    scores = {"ap": [], "iou": []}
    for comp in composites:
        prob = torch.from_numpy(predictor.predict(comp.composite).probability)[None]
        m = image_metrics(prob, torch.from_numpy(comp.mask > 127).float()[None])
        for k in scores:
            scores[k].append(m[k].item())
    return {k: float(np.mean(v)) for k, v in scores.items()}


def test_default_model_beats_the_references_on_strong_shifts(composites):
    model = Predictor.from_checkpoint("default", device="cpu")
    assert model.predict(composites[0].composite).probability.shape == composites[0].composite.shape[:2]
    ours = mean_scores(model, composites)
    refs = {
        name: mean_scores(Predictor.from_checkpoint(name, device="cpu", size=model.size), composites)
        for name in ("reference_centre_prior", "reference_colour_stats")
    }
    print("default", ours, refs)
    best_ref_ap = max(r["ap"] for r in refs.values())
    assert ours["ap"] > best_ref_ap + 0.10
    assert ours["iou"] > max(r["iou"] for r in refs.values())


def test_shipped_model_predicts_without_torch(tmp_path):
    """The core install's path: predict (CLI) and the web app with the shipped model never import torch."""
    import subprocess
    import sys

    from PIL import Image

    Image.new("RGB", (64, 48), (120, 30, 30)).save(tmp_path / "x.jpg")
    code = (
        "import sys; from inharmony.cli.main import main;"
        f"rc = main(['predict', {str(tmp_path / 'x.jpg')!r}, '--out', {str(tmp_path / 'out')!r}, '--workers', '0']);"
        "from fastapi.testclient import TestClient; from inharmony.web.app import create_app;"
        "c = TestClient(create_app()).__enter__();"
        f"r = c.post('/v1/localize', files={{'image': open({str(tmp_path / 'x.jpg')!r}, 'rb')}});"
        "assert r.status_code == 200, r.text; assert 'score' in r.json();"
        "assert rc == 0 and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)[:5]"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "summary.csv").is_file()


def test_shipped_onnx_matches_the_shipped_weights():
    import numpy as np

    from inharmony.inference import Predictor

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    onnx = Predictor.from_checkpoint("default")
    torch_ = Predictor.from_checkpoint("default", backend="torch")
    assert onnx.backend == "onnxruntime" and torch_.backend == "torch" and onnx.size == torch_.size
    assert np.abs(onnx.predict(image).probability - torch_.predict(image).probability).max() <= 1e-3


def test_thread_count_reaches_the_runtime():
    one = Predictor.from_checkpoint("default", backend="onnx", threads=1)
    assert one.model.session.get_session_options().intra_op_num_threads == 1
    before = torch.get_num_threads()
    try:
        Predictor.from_checkpoint("default", backend="torch", threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads"):
        Predictor.from_checkpoint("default", threads=0)
