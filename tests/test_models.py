"""The same checks on every registered model: sizes, attention maps, gradients, save → load."""

import pytest
import torch

from inharmony.checkpoint import load_model, save_model
from inharmony.models import create_model, list_models, model_config, standalone_models

SIZE = 64


# composed models (an ensemble of trained members) have their own tests: tests/test_ensemble.py
LEARNED = [m for m in standalone_models() if not m.startswith("reference_")]


@pytest.fixture(scope="module", params=LEARNED)
def model(request):
    torch.manual_seed(0)
    return create_model(request.param)


def test_output_shapes_and_attention(model):
    model.eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        out = model(x)
    assert out["logits"].shape == (2, 1, SIZE, SIZE)
    has_mda = getattr(model, "mda", None) is not None
    assert len(out["attention"]) == (5 if has_mda else 0)
    for a in out["attention"]:
        assert a.shape == (2, 1, SIZE, SIZE)
        assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert torch.isfinite(out["logits"]).all()


def test_backward_reaches_every_parameter(model):
    from inharmony.losses import DIRLLoss

    model.train()
    x = torch.randn(2, 3, SIZE, SIZE)
    mask = (torch.rand(2, 1, SIZE, SIZE) > 0.7).float()
    model.zero_grad()
    out = model(x)
    losses = DIRLLoss()(out, mask)
    assert torch.isfinite(losses["loss"])
    if "colour_shift" in out:  # a training-only head with a loss of its own (loss.colour_shift, in the trainer)
        from inharmony.losses import colour_shift_loss

        mask[1] = 0  # sample 1 authentic: asked for no change anywhere
        losses["loss"] = losses["loss"] + colour_shift_loss(out["colour_shift"], x, mask, torch.tensor([-1, -1]))
    losses["loss"].backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert no_grad == []


def test_save_load_roundtrip_identical(model, tmp_path):
    model.eval()
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a["logits"], b["logits"])
    assert loaded.model_name == model.model_name
    assert loaded.model_config == model.model_config


def test_non_square_input(model):
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 96))
    assert out["logits"].shape == (1, 1, 64, 96)


def test_registry_errors_list_valid_names():
    with pytest.raises(ValueError) as err:
        create_model("dirl_resnet1000")
    for name in list_models():
        assert name in str(err.value)
    with pytest.raises(ValueError, match="unknown option"):
        model_config("dirl_resnet34", widht=3)


def test_dirl_resnet34_matches_reference_size():
    model = create_model("dirl_resnet34")
    total = sum(p.numel() for p in model.parameters())
    encoder = sum(p.numel() for p in model.encoder.parameters())
    # Reference: 53.47 M total including a 9,280-parameter conv it never uses; encoder 35.44 M.
    assert abs(total + 9280 - 53_471_354) < 20_000
    assert abs(encoder - 35_438_976) < 1_000
    feats = model.encoder(torch.randn(1, 3, 64, 64))
    assert [f.shape[1:] for f in feats] == [(64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 4, 4)]


def test_encoder_weights_from_local_file(tmp_path):
    from torchvision.models import mobilenet_v2, resnet34

    src = resnet34(weights=None)
    torch.save(src.state_dict(), tmp_path / "r34.pth")
    model = create_model("dirl_resnet34", encoder_weights=str(tmp_path / "r34.pth"))
    assert torch.equal(model.encoder.layer3[0].conv1.weight, src.layer3[0].conv1.weight)
    assert "encoder_weights" not in model.model_config

    mb = mobilenet_v2(weights=None)
    torch.save(mb.state_dict(), tmp_path / "mb.pth")
    model = create_model("dirl_mobilenetv2", encoder_weights=str(tmp_path / "mb.pth"))
    assert torch.equal(model.encoder.stages[4][0].conv[0][0].weight, mb.features[14].conv[0][0].weight)

    # the smp baselines take the same files, so that an equal-encoder comparison starts from the same weights
    unet = create_model("unet_mobilenetv2", encoder_weights=str(tmp_path / "mb.pth"))
    assert torch.equal(unet.net.encoder.features[14].conv[0][0].weight, mb.features[14].conv[0][0].weight)
    deeplab = create_model("deeplabv3", encoder_weights=str(tmp_path / "r34.pth"))
    assert torch.equal(deeplab.net.encoder.layer3[0].conv1.weight, src.layer3[0].conv1.weight)
    with pytest.raises(ValueError, match="r34.pth"):  # a ResNet file for a MobileNetV2 encoder
        create_model("unet_mobilenetv2", encoder_weights=str(tmp_path / "r34.pth"))
    with pytest.raises(ValueError, match="'hrnet' cannot load encoder weights.*unet_mobilenetv2"):
        create_model("hrnet", encoder_weights=str(tmp_path / "mb.pth"))

    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        create_model("dirl_resnet34", encoder_weights=str(tmp_path / "nowhere.pth"))
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "foreign.pth")
    with pytest.raises(ValueError, match="foreign.pth"):
        create_model("dirl_resnet34", encoder_weights=str(tmp_path / "foreign.pth"))
