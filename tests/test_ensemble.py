"""Models combined in output space: ``Ensemble``, ``ensemble_models`` and ``ship_model.py --ensemble``."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from inharmony.checkpoint import CheckpointError, ensemble_models, load_model, save_model
from inharmony.models import create_model
from inharmony.models.ensemble import member_spec

ROOT = Path(__file__).resolve().parents[1]
SIZE = 64


def _member(seed: int, name: str = "dirl_mobilenetv2_verdict"):
    torch.manual_seed(seed)
    model = create_model(name)
    with torch.no_grad():  # BatchNorm statistics and the verdict's bias apart, so members answer differently
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def members():
    return [_member(0), _member(1)]


@pytest.fixture(scope="module")
def image():
    torch.manual_seed(5)
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    x[:, :, :, : SIZE // 2] += 0.8  # not mirror-symmetric
    return x


def _built(members, **options):
    ensemble = create_model("ensemble", members=[member_spec(m) for m in members], **options)
    for built, member in zip(ensemble.members, members):
        built.load_state_dict(member.state_dict())
    return ensemble.eval()


def test_mean_and_max_combine_the_members_probabilities(members, image):
    with torch.no_grad():
        outs = [m(image) for m in members]
        mean, top = _built(members)(image), _built(members, combine="max")(image)
        weighted = _built(members, weights=[3, 1])(image)
        product = _built(members, combine="logit_mean", weights=[3, 1])(image)
    probs = [torch.sigmoid(o["logits"]) for o in outs]
    assert (probs[0] - probs[1]).abs().max() > 1e-3  # the members disagree, so the combinations differ
    assert torch.allclose(torch.sigmoid(mean["logits"]), 0.5 * (probs[0] + probs[1]), atol=1e-5)
    assert torch.allclose(torch.sigmoid(top["logits"]), torch.maximum(*probs), atol=1e-5)
    assert torch.allclose(torch.sigmoid(weighted["logits"]), 0.75 * probs[0] + 0.25 * probs[1], atol=1e-5)
    assert torch.allclose(product["logits"], 0.75 * outs[0]["logits"] + 0.25 * outs[1]["logits"], atol=1e-5)
    assert torch.allclose(product["verdict"], 0.75 * outs[0]["verdict"] + 0.25 * outs[1]["verdict"], atol=1e-5)
    assert len(mean["attention"]) == 5
    for att, a, b in zip(mean["attention"], outs[0]["attention"], outs[1]["attention"]):
        assert torch.allclose(att, 0.5 * (a + b), atol=1e-6)
    candidate = 0.5 * (torch.sigmoid(outs[0]["mask_logits"]) + torch.sigmoid(outs[1]["mask_logits"]))
    assert torch.allclose(torch.sigmoid(mean["mask_logits"]), candidate, atol=1e-5)
    verdict = 0.5 * (torch.sigmoid(outs[0]["verdict"]) + torch.sigmoid(outs[1]["verdict"]))
    assert torch.allclose(torch.sigmoid(mean["verdict"]), verdict, atol=1e-5)
    assert torch.isfinite(mean["logits"]).all() and torch.isfinite(top["logits"]).all()


def test_a_model_with_itself_answers_as_the_model(members, image):
    with torch.no_grad():
        alone, twice = members[0](image), _built([members[0], members[0]])(image)
    assert torch.allclose(torch.sigmoid(twice["logits"]), torch.sigmoid(alone["logits"]), atol=1e-5)


def test_files_make_an_ensemble_that_saves_loads_and_exports(members, image, tmp_path):
    from inharmony.export import OnnxModule, export_onnx

    files = [save_model(m, tmp_path / f"m{i}.safetensors", info={"size": SIZE}) for i, m in enumerate(members)]
    ensemble = ensemble_models(files, flip_test=True)
    assert [m.flip_test for m in ensemble.members] == [True, True]
    assert ensemble.model_info["size"] == SIZE and ensemble.model_info["ensemble"]["files"] == [str(f) for f in files]
    for built, member in zip(ensemble.members, members):  # each member keeps its weights exactly
        assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), member.state_dict().values()))
    path = save_model(ensemble, tmp_path / "ens.safetensors", info=ensemble.model_info)
    loaded = load_model(path)
    with torch.no_grad():
        got, want = loaded(image), ensemble(image)
        flipped = [create_model(m.model_name, flip_test=True) for m in members]
        for f, m in zip(flipped, members):
            f.load_state_dict(m.state_dict())
        mirrored = [torch.sigmoid(f.eval()(image)["logits"]) for f in flipped]
    assert torch.equal(got["logits"], want["logits"])
    assert loaded.model_config["members"][0]["name"] == "dirl_mobilenetv2_verdict"
    assert torch.allclose(torch.sigmoid(want["logits"]), 0.5 * (mirrored[0] + mirrored[1]), atol=1e-5)  # each mirrored
    onnx = OnnxModule(export_onnx(loaded, tmp_path / "ens.onnx", size=SIZE))(image)
    assert sorted(onnx) == ["attention", "logits", "mask_logits"]
    assert (torch.sigmoid(onnx["logits"]) - torch.sigmoid(want["logits"])).abs().max() <= 1e-3
    assert ensemble_models(files, flip_test=False).members[0].flip_test is False
    from inharmony.inference import Predictor

    photo = (torch.rand(48, 80, 3) * 255).byte().numpy()
    pred = Predictor(loaded, size=SIZE, device="cpu").predict(photo)  # the Python API takes it as any model
    assert pred.probability.shape == (48, 80) and pred.candidate is not None and 0.0 <= pred.score <= 1.0


def test_a_mask_member_says_where_and_every_member_whether(members, image, tmp_path):
    with torch.no_grad():
        outs = [m(image) for m in members]
        split = _built(members, mask_member=1)(image)
        mean = _built(members)(image)
    assert torch.equal(split["mask_logits"], outs[1]["mask_logits"])  # member 1's ranking of pixels, exactly
    assert all(torch.equal(a, b) for a, b in zip(split["attention"], outs[1]["attention"]))
    assert torch.allclose(split["verdict"], mean["verdict"], atol=1e-6)  # the verdict: both members combined
    assert (split["verdict"] - outs[1]["verdict"]).abs().max() > 1e-4
    gate = torch.sigmoid(split["verdict"]).view(-1, 1, 1, 1)
    assert torch.allclose(torch.sigmoid(split["logits"]), torch.sigmoid(outs[1]["mask_logits"]) * gate, atol=1e-5)
    files = [save_model(m, tmp_path / f"m{i}.safetensors", info={"size": SIZE}) for i, m in enumerate(members)]
    loaded = load_model(save_model(ensemble_models(files, mask_member=1), tmp_path / "split.safetensors"))
    assert loaded.mask_member == 1
    with torch.no_grad():
        assert torch.equal(loaded(image)["logits"], split["logits"])
    with pytest.raises(ValueError, match="mask_member"):
        _built(members, mask_member=2)
    with pytest.raises(ValueError, match="verdict head"):
        _built([members[0], create_model("dirl_mobilenetv2").eval()], mask_member=0)
    script = [sys.executable, str(ROOT / "scripts" / "ship_model.py"), "--run", str(tmp_path), "--model", str(files[0])]
    run = subprocess.run([*script, "--mask-member", "0", "--out", str(tmp_path / "x.safetensors")], capture_output=True)
    assert run.returncode == 2 and b"--mask-member" in run.stderr


def _fine_tune_of(model, seed: int):
    """``model`` with every weight but its encoder's moved (a fine-tune whose encoder did not learn)."""
    torch.manual_seed(seed)
    tuned = create_model(model.model_name)
    tuned.load_state_dict(model.state_dict())
    with torch.no_grad():
        for name, tensor in tuned.state_dict().items():
            if not name.startswith("encoder.") and tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn_like(tensor).abs())
    return tuned.eval()


def test_fine_tunes_of_one_frozen_encoder_run_it_once(members, image, tmp_path):
    from inharmony.export import OnnxModule, export_onnx

    tuned = _fine_tune_of(members[0], seed=3)
    files = [
        save_model(m, tmp_path / f"s{i}.safetensors", info={"size": SIZE}) for i, m in enumerate((members[0], tuned))
    ]
    apart = ensemble_models(files, flip_test=True, mask_member=1)
    shared = ensemble_models(files, flip_test=True, mask_member=1, shared_encoder=True)
    assert not hasattr(shared.members[1], "encoder")  # one encoder in the model and in its file
    calls = []
    hook = shared.members[0].encoder.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        want, got = apart(image), shared(image)
    hook.remove()
    assert len(calls) == 1  # once, for both members and both views
    for key in ("logits", "mask_logits", "verdict"):
        assert torch.allclose(got[key], want[key], atol=1e-5), key
    assert (want["mask_logits"] - members[0](image)["mask_logits"]).abs().max() > 1e-3  # the members differ
    path = save_model(shared, tmp_path / "shared.safetensors", info=shared.model_info)
    assert path.stat().st_size < 0.8 * save_model(apart, tmp_path / "apart.safetensors").stat().st_size
    loaded = load_model(path)
    assert loaded.shared_encoder and loaded.model_info["ensemble"]["shared_encoder"] is True
    with torch.no_grad():
        assert torch.equal(loaded(image)["logits"], got["logits"])
    onnx = OnnxModule(export_onnx(loaded, tmp_path / "shared.onnx", size=SIZE))(image)
    assert (torch.sigmoid(onnx["logits"]) - torch.sigmoid(got["logits"])).abs().max() <= 1e-3
    other = save_model(members[1], tmp_path / "other.safetensors", info={"size": SIZE})
    with pytest.raises(CheckpointError, match="encoder of .*other.safetensors differs"):
        ensemble_models([files[0], other], shared_encoder=True)
    spec = member_spec(members[0])
    with pytest.raises(ValueError, match="test-time views differ"):
        create_model(
            "ensemble", members=[spec, {**spec, "config": {**spec["config"], "flip_test": True}}], shared_encoder=True
        )
    with pytest.raises(ValueError, match="cannot take an encoder"):
        create_model("ensemble", members=[spec, member_spec(create_model("unet_mobilenetv2"))], shared_encoder=True)
    script = [sys.executable, str(ROOT / "scripts" / "ship_model.py"), "--run", str(tmp_path), "--model", str(files[0])]
    run = subprocess.run([*script, "--shared-encoder", "--out", str(tmp_path / "x.safetensors")], capture_output=True)
    assert run.returncode == 2 and b"--shared-encoder" in run.stderr
    apart_files = [*script[:-1], str(other), "--ensemble", str(files[0]), "--shared-encoder"]
    run = subprocess.run([*apart_files, "--out", str(tmp_path / "x.safetensors")], capture_output=True, text=True)
    assert run.returncode == 1 and "differs" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_ensembles_refuse_what_they_cannot_combine(members, tmp_path):
    spec = member_spec(members[0])
    with pytest.raises(ValueError, match="at least two members"):
        create_model("ensemble", members=[spec])
    with pytest.raises(ValueError, match="combine"):
        create_model("ensemble", members=[spec, spec], combine="median")
    with pytest.raises(ValueError, match="one non-negative weight per member"):
        create_model("ensemble", members=[spec, spec], weights=[1.0])
    with pytest.raises(ValueError, match="member 1"):
        create_model("ensemble", members=[spec, {"name": "dirl_mobilenetv2"}])
    a = save_model(members[0], tmp_path / "a.safetensors", info={"size": SIZE})
    b = save_model(members[1], tmp_path / "b.safetensors", info={"size": 2 * SIZE})
    with pytest.raises(CheckpointError, match="different input sizes"):
        ensemble_models([a, b])
    with pytest.raises(ValueError, match="at least two"):
        ensemble_models([a])
    nested = save_model(ensemble_models([a, a]), tmp_path / "nested.safetensors")
    with pytest.raises(CheckpointError, match="itself an ensemble"):
        ensemble_models([nested, a])
    mixed = _built([members[0], create_model("unet_mobilenetv2").eval()])  # 5 attention maps against none
    with pytest.raises(ValueError, match="attention maps"), torch.no_grad():
        mixed(torch.zeros(1, 3, SIZE, SIZE))


def test_ship_model_ships_an_ensemble(members, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "step": 2, "images_per_s": 3.0, "val_AP": 50.0}\n')
    files = [save_model(m, tmp_path / f"m{i}.safetensors", info={"size": SIZE}) for i, m in enumerate(members)]
    out = tmp_path / "shipped.safetensors"
    ship = [sys.executable, "scripts/ship_model.py", "--run", str(run), "--model", str(files[1])]
    done = subprocess.run(
        [*ship, "--ensemble", str(files[0]), "--combine", "max", "--flip-test", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shipped = load_model(out)
    assert shipped.model_name == "ensemble" and shipped.combine == "max"
    assert [m.flip_test for m in shipped.members] == [True, True]
    assert shipped.model_info["ensemble"]["files"] == [str(files[0]), str(files[1])]
    key = next(k for k in members[0].state_dict() if k.endswith("weight"))
    assert torch.allclose(shipped.members[0].state_dict()[key], members[0].state_dict()[key], atol=1e-2)  # fp16
    weighted = [*ship, "--ensemble", str(files[0]), "--weights", "2", "1", "--out", str(out)]
    done = subprocess.run(weighted, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    shipped = load_model(out)
    assert shipped.model_info["ensemble"]["weights"] == [2.0, 1.0]
    assert shipped.weights.tolist() == pytest.approx([2 / 3, 1 / 3])  # the shares travel with the file
    done = subprocess.run([*weighted[:-2], "3", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "one per member" in done.stderr
    done = subprocess.run(
        [*ship, "--ensemble", str(files[0]), "--soup", str(files[0]), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2 and "use one" in done.stderr


def test_the_registry_lists_the_ensemble_but_not_as_standalone():
    from inharmony.models import describe_model, list_models, standalone_models

    assert "ensemble" in list_models() and "ensemble" not in standalone_models()
    assert set(standalone_models()) == set(list_models()) - {"ensemble"}
    assert "ship_model.py --ensemble" in describe_model("ensemble")
