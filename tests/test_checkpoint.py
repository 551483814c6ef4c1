import pytest
import torch

from inharmony.checkpoint import CheckpointError, load_model, save_model
from inharmony.models import create_model


def test_half_precision_file_loads_close(tmp_path):
    model = create_model("dirl_mobilenetv2").eval()
    path = save_model(model, tmp_path / "half.safetensors", half=True, info={"note": "x"})
    full = save_model(model, tmp_path / "full.safetensors")
    assert path.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_model(path)
    assert loaded.model_info == {"note": "x"}
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        diff = (torch.sigmoid(model(x)["logits"]) - torch.sigmoid(loaded(x)["logits"])).abs().max()
    assert diff < 1e-2


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="garbage.safetensors"):
        load_model(garbage)
    good = save_model(create_model("dirl_mobilenetv2"), tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        load_model(truncated)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="not an inharmony model file"):
        load_model(tmp_path / "foreign.safetensors")


def test_pickle_checkpoint_is_refused(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"anything": 1}, path)
    with pytest.raises(CheckpointError):
        load_model(path)


def test_interpolation_mixes_float_weights_and_refuses_other_architectures(tmp_path):
    from inharmony.checkpoint import interpolate_models

    torch.manual_seed(0)
    start, tuned = create_model("dirl_mobilenetv2").eval(), create_model("dirl_mobilenetv2").eval()
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(torch.randn_like(p))
    a = save_model(start, tmp_path / "start.safetensors")
    b = save_model(tuned, tmp_path / "tuned.safetensors", info={"scores": {"x": 1}, "size": 160})
    for alpha in (0.0, 0.3, 1.0):
        mixed = interpolate_models(a, b, alpha).state_dict()
        for k, v in tuned.state_dict().items():
            want = (1 - alpha) * start.state_dict()[k] + alpha * v if v.is_floating_point() else v
            assert torch.allclose(mixed[k], want, atol=1e-6), k
    model = interpolate_models(a, b, 0.3)
    assert model.model_info["average"]["weights"] == [0.7, 0.3] and model.model_info["size"] == 160
    assert "scores" not in model.model_info  # figures measured on the fine-tune are not the mixture's
    with pytest.raises(ValueError, match="alpha"):
        interpolate_models(a, b, 1.5)
    other = save_model(create_model("dirl_mobilenetv2", decoder_channels=16), tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="same architecture"):
        interpolate_models(a, other, 0.5)


def test_soup_averages_several_models_with_their_weights(tmp_path):
    from inharmony.checkpoint import average_models

    torch.manual_seed(1)
    models = [create_model("dirl_mobilenetv2").eval() for _ in range(3)]
    with torch.no_grad():
        for i, m in enumerate(models):
            for p in m.parameters():
                p.add_(torch.randn_like(p) * (i + 1))
    files = [save_model(m, tmp_path / f"m{i}.safetensors") for i, m in enumerate(models)]
    for weights in (None, [0.5, 0.25, 0.25]):
        mixed = average_models(files, weights).state_dict()
        w = weights or [1 / 3] * 3
        for k, v in models[0].state_dict().items():
            if v.is_floating_point():
                want = sum(wi * m.state_dict()[k] for wi, m in zip(w, models))
                assert torch.allclose(mixed[k], want, atol=1e-5), k
    for bad in ([0.5, 0.5], [0.7, 0.7, -0.4], [0.5, 0.2, 0.2]):
        with pytest.raises(ValueError, match="one non-negative weight per file"):
            average_models(files, bad)


def test_weight_distance_measures_how_far_a_state_moved(tmp_path):
    from inharmony.checkpoint import interpolate_models, weight_distance

    torch.manual_seed(2)
    start, tuned = create_model("dirl_mobilenetv2").eval(), create_model("dirl_mobilenetv2").eval()
    tuned.load_state_dict(start.state_dict())
    with torch.no_grad():
        for k, p in tuned.named_parameters():
            p.add_(0.01 if k.startswith("encoder.") else 0.03)
        for b in tuned.buffers():  # BatchNorm statistics are not learned: left out
            if b.is_floating_point():
                b.add_(5.0)
    a = save_model(start, tmp_path / "start.safetensors")
    b = save_model(tuned, tmp_path / "tuned.safetensors")
    far = weight_distance(a, b)
    params = dict(start.named_parameters())
    n_enc = sum(p.numel() for k, p in params.items() if k.startswith("encoder."))
    n_rest = sum(p.numel() for k, p in params.items() if not k.startswith("encoder."))
    want = (n_enc * 0.01**2 + n_rest * 0.03**2) ** 0.5
    assert far["distance"] == pytest.approx(want, rel=1e-4)
    assert far["encoder_share"] == pytest.approx(n_enc * 0.01**2 / want**2, rel=1e-4)
    assert weight_distance(a, a)["distance"] == 0.0
    mirrored = create_model("dirl_mobilenetv2", flip_test=True).eval()
    mirrored.load_state_dict(tuned.state_dict())
    seen = weight_distance(a, save_model(mirrored, tmp_path / "mirrored.safetensors"))  # test-time views aside
    assert seen["distance"] == pytest.approx(want, rel=1e-4)
    half = save_model(interpolate_models(a, b, 0.5), tmp_path / "half.safetensors")
    assert weight_distance(a, half)["distance"] == pytest.approx(want / 2, rel=1e-4)
    other = save_model(create_model("dirl_mobilenetv2", decoder_channels=16), tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="same architecture"):
        weight_distance(a, other)
