"""ONNX export: parity with torch (max |Δ probability| ≤ 1e-3) and use through the predictor and CLI."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnxruntime", reason="onnx extra not installed")
from inharmony.checkpoint import save_model  # noqa: E402
from inharmony.cli.main import main  # noqa: E402
from inharmony.export import OnnxModule  # noqa: E402
from inharmony.inference import Predictor  # noqa: E402
from inharmony.models import create_model  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    model = create_model("dirl_mobilenetv2").eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that folding them would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    path = save_model(model, base / "m.safetensors", info={"size": 64})
    assert main(["export", "--model", str(path), "--out", str(base / "m.onnx"), "--check"]) == 0
    return model, path, base / "m.onnx"


def test_parity_with_torch_on_batches(exported):
    model, _, onnx_path = exported
    ort_model = OnnxModule(onnx_path)
    assert ort_model.model_name == "dirl_mobilenetv2" and ort_model.input_size == 64
    for batch in (1, 3):
        x = torch.randn(batch, 3, 64, 64)
        with torch.inference_mode():
            want = model(x)
        got = ort_model(x)
        assert (torch.sigmoid(want["logits"]) - torch.sigmoid(got["logits"])).abs().max() <= 1e-3
        for a, b in zip(want["attention"], got["attention"]):
            assert (a - b).abs().max() <= 1e-3


def test_half_precision_weights_halve_the_file_and_keep_the_answers(exported, tmp_path):
    import onnx

    model, path, onnx_path = exported
    half = tmp_path / "half.onnx"
    assert main(["export", "--model", str(path), "--out", str(half), "--check", "--fp16-weights"]) == 0
    assert half.stat().st_size < 0.6 * onnx_path.stat().st_size
    kinds = {i.data_type for i in onnx.load(str(half)).graph.initializer if len(i.dims) == 4}
    assert kinds == {onnx.TensorProto.FLOAT16}  # every convolution's weights stored at half precision
    ort_model = OnnxModule(half)
    assert ort_model.model_name == "dirl_mobilenetv2" and ort_model.input_size == 64
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        want = torch.sigmoid(model(x)["logits"])
    got = torch.sigmoid(ort_model(x)["logits"])
    assert got.dtype == torch.float32 and 0 < (want - got).abs().max() <= 2e-2


def test_predictor_and_cli_take_onnx_files(exported, tmp_path):
    _, model_path, onnx_path = exported
    image = np.random.default_rng(0).integers(0, 255, (45, 70, 3), dtype=np.uint8)
    torch_pred = Predictor.from_checkpoint(model_path, device="cpu").predict(image)
    onnx_pred = Predictor.from_checkpoint(onnx_path).predict(image)
    assert onnx_pred.probability.shape == (45, 70)
    assert np.abs(torch_pred.probability - onnx_pred.probability).max() <= 1e-3
    Image.fromarray(image).save(tmp_path / "x.png")
    assert (
        main(
            [
                "predict",
                str(tmp_path / "x.png"),
                "--model",
                str(onnx_path),
                "--out",
                str(tmp_path / "o"),
                "--workers",
                "0",
            ]
        )
        == 0
    )
    assert Image.open(tmp_path / "o" / "x_mask.png").size == (70, 45)
    with pytest.raises(ValueError, match="exported for 64×64 inputs, not 128 .another size: --backend torch"):
        Predictor.from_checkpoint(onnx_path, size=128)


def test_bad_onnx_file(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"junk")
    with pytest.raises(ValueError, match="bad.onnx is not a loadable ONNX model"):
        OnnxModule(tmp_path / "bad.onnx")


def test_onnx_prediction_does_not_import_torch(exported, tmp_path):
    _, _, onnx_path = exported
    Image.fromarray(np.full((30, 40, 3), 128, np.uint8)).save(tmp_path / "x.png")
    code = (
        "import sys; from inharmony.inference import Predictor;"
        f"p = Predictor.from_checkpoint({str(onnx_path)!r}).predict({str(tmp_path / 'x.png')!r});"
        "assert p.probability.shape == (30, 40), p.probability.shape;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_torch_only_options_are_refused_for_onnx(exported):
    with pytest.raises(ValueError, match="apply to torch models"):
        Predictor.from_checkpoint(exported[2], half=True)


def test_consistency_model_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    model = create_model("consistency_patches", smooth=5).eval()
    path = save_model(model, tmp_path / "c.safetensors", info={"size": 64})
    assert main(["export", "--model", str(path), "--out", str(tmp_path / "c.onnx"), "--check"]) == 0
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        want = torch.sigmoid(model(x)["logits"])
    assert (want - torch.sigmoid(OnnxModule(tmp_path / "c.onnx")(x)["logits"])).abs().max() <= 1e-3
