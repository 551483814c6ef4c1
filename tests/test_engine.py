import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakes import make_synth_dataset
from inharmony.checkpoint import load_model, rewrite_info
from inharmony.cli.main import main
from inharmony.engine.config import load_config
from inharmony.engine.trainer import Trainer, TrainingError
from inharmony.models import create_model

ROOT = Path(__file__).resolve().parents[1]

TINY = [
    "--model",
    "dirl_mobilenetv2",
    "--batch-size",
    "2",
    "--device",
    "cpu",
    "--set",
    "data.size=64",
    "--set",
    "train.workers=0",
    "--set",
    "train.checkpoint_every=0",
]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    return make_synth_dataset(tmp_path_factory.mktemp("synth"), n=14, seed=0, photos=6, size=(80, 64))


def train(args, capsys) -> dict:
    assert main(["train", *args]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_evaluate_predict_end_to_end(synth_root, tmp_path, capsys):
    result = train(
        [*TINY, "--root", str(synth_root), "--out", str(tmp_path / "runs"), "--max-steps", "3", "--epochs", "2"], capsys
    )
    run = Path(result["run_dir"])
    assert run.name == "version_0" and (run / "config.yaml").is_file() and (run / "last.pt").is_file()
    assert {"AP", "F1", "IoU"} <= set(result["val"])
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,step,lr,samples_seen,skipped,loss") and len(rows) >= 2
    best = run / "best.safetensors"

    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(best), "--root", str(synth_root), "--out", str(out), "--per-image"]) == 0
    printed = capsys.readouterr().out
    assert "| version_0/best | ds | overall |" in printed  # a single-group set shows its overall row only
    results = json.loads((out / "results.json").read_text())
    overall = next(s for s in results["summary"] if s["set"] == "ds" and s["group"] == "overall")
    assert results["meta"]["sizes"] == {"version_0/best": 64} and 0 <= overall["AP"] <= 100
    n_test = len((synth_root / "Synthetic/Synthetic_test.txt").read_text().split())
    assert overall["n"] == n_test
    assert len((out / "per_image.csv").read_text().splitlines()) == n_test + 1

    images = tmp_path / "in"
    images.mkdir()
    Image.fromarray(np.zeros((50, 70, 3), np.uint8)).save(images / "a.png")
    Image.fromarray(np.zeros((33, 20), np.uint8)).save(images / "gray.jpg")
    (images / "broken.jpg").write_bytes(b"not a jpeg")
    code = main(["predict", str(images), "--model", str(best), "--out", str(tmp_path / "pred"), "--workers", "0"])
    assert code == 1  # one bad file: reported, the rest done
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.err and "2 image(s)" in captured.out
    summary = list(csv.DictReader(open(tmp_path / "pred" / "summary.csv", encoding="utf-8")))
    assert len(summary) == 3 and summary[-1]["file"].endswith("broken.jpg") and summary[-1]["error"]
    assert {r["width"] for r in summary[:2]} == {"70", "20"} and all(r["score"] for r in summary[:2])
    assert float(summary[0]["score"]) >= float(summary[1]["score"])
    assert all(r["raw_score"] == r["score"] for r in summary[:2])  # an uncalibrated model
    args = [str(images), "--model", str(best), "--out", str(tmp_path / "p2"), "--sort", "name", "--json"]
    assert main(["predict", *args, "--workers", "0", "--save", "mask"]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) == 2 and {"inharmonious", "score", "bbox", "region_fraction"} <= set(lines[0])
    by_name = list(csv.DictReader(open(tmp_path / "p2" / "summary.csv", encoding="utf-8")))
    assert [r["file"] for r in by_name] == sorted(r["file"] for r in by_name)
    mask = Image.open(tmp_path / "pred" / "a_mask.png")
    assert mask.size == (70, 50)
    assert Image.open(tmp_path / "pred" / "gray_overlay.jpg").size == (20, 33)
    assert (tmp_path / "pred" / "gray_heatmap.png").is_file()


@pytest.mark.parametrize(
    "extra",
    [[], ["--set", "train.encoder_lr_mult=0.1"], ["--set", "train.scales=[0.5,1.0,1.5]"]],
    ids=["one_group", "slow_encoder", "scales"],
)
def test_resume_continues_exactly(synth_root, tmp_path, capsys, extra):
    common = [*TINY, "--root", str(synth_root), "--epochs", "3", "--set", "train.milestones=[1,2]", *extra]
    straight = train([*common, "--out", str(tmp_path / "a"), "--max-steps", "7"], capsys)
    first = train([*common, "--out", str(tmp_path / "b"), "--max-steps", "3"], capsys)
    resumed = train(["--resume", first["run_dir"], "--set", "train.max_steps=7"], capsys)
    assert resumed["run_dir"] == first["run_dir"]
    a = torch.load(Path(straight["run_dir"]) / "last.pt", weights_only=True)
    b = torch.load(Path(first["run_dir"]) / "last.pt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 7 and a["epoch"] == b["epoch"]
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] >= 1
    for key in a["model"]:
        assert torch.allclose(a["model"][key].float(), b["model"][key].float(), atol=1e-6), key


def test_weight_average_is_kept_resumed_validated_and_shipped(synth_root, tmp_path, capsys):
    from safetensors.torch import load_file

    common = [*TINY, "--root", str(synth_root), "--epochs", "3", "--set", "train.milestones=[1,2]"]
    common += ["--set", "train.ema_decay=0.5"]
    straight = train([*common, "--out", str(tmp_path / "a"), "--max-steps", "7"], capsys)
    first = train([*common, "--out", str(tmp_path / "b"), "--max-steps", "3"], capsys)
    train(["--resume", first["run_dir"], "--set", "train.max_steps=7"], capsys)
    a = torch.load(Path(straight["run_dir"]) / "last.pt", weights_only=True)
    b = torch.load(Path(first["run_dir"]) / "last.pt", weights_only=True)
    assert int(a["ema"]["n_averaged"]) == int(b["ema"]["n_averaged"]) == 7
    for key in a["ema"]:  # the average resumes exactly too
        assert torch.allclose(a["ema"][key].float(), b["ema"][key].float(), atol=1e-6), key
    key = next(k for k in a["model"] if k.endswith("weight") and a["model"][k].dim() == 4)
    averaged, trained = a["ema"][f"module.{key}"], a["model"][key]
    assert not torch.allclose(averaged, trained)  # an average, not the last step
    best = load_file(str(Path(straight["run_dir"]) / "best.safetensors"))
    assert torch.allclose(best[key].float(), averaged.float(), atol=1e-3)  # validation measured the average
    run = Path(straight["run_dir"])
    shipped = tmp_path / "shipped.safetensors"
    ship = [sys.executable, "scripts/ship_model.py", "--run", str(run), "--model", str(run / "last.pt")]
    for extra, want in (([], averaged), (["--raw"], trained)):
        done = subprocess.run([*ship, *extra, "--out", str(shipped)], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        assert torch.allclose(load_file(str(shipped))[key].float(), want.float(), atol=1e-2)
    done = subprocess.run([*ship, "--flip-test", "--out", str(shipped)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert load_model(shipped).flip_test  # same weights, the mirror pass on
    assert torch.allclose(load_file(str(shipped))[key].float(), averaged.float(), atol=1e-2)
    calibrated, moved = tmp_path / "cal.safetensors", tmp_path / "moved.safetensors"
    rewrite_info(shipped, calibrated, {"calibration": {"method": "platt", "a": 1.0, "b": 0.0}})
    again = [*ship[:4], "--model", str(calibrated), "--flip-test"]
    done = subprocess.run([*again, "--out", str(moved)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "calibration" in load_model(moved).model_info  # the same views: the calibration still holds
    done = subprocess.run([*again, "--shift-test", "4", "--out", str(moved)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    viewed = load_model(moved)
    assert viewed.flip_test and viewed.shift_test == 4 and "calibration" not in viewed.model_info  # new views
    assert torch.equal(load_file(str(moved))[key], load_file(str(calibrated))[key])
    done = subprocess.run([*again, "--scale-test", "0.8", "1.2", "--out", str(moved)], capture_output=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert load_model(moved).test_scales == (0.8, 1.2) and "calibration" not in load_model(moved).model_info
    plain = [*ship[:4], "--model", str(moved), "--no-flip-test", "--out", str(tmp_path / "plain.safetensors")]
    done = subprocess.run(plain, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    unmirrored = load_model(tmp_path / "plain.safetensors")  # the mirror off, the other views kept
    assert not unmirrored.flip_test and unmirrored.test_scales == (0.8, 1.2)
    unscaled = [*again, "--scale-use", "mask", "--out", str(moved)]
    done = subprocess.run(unscaled, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "--scale-test" in done.stderr  # what the other scales add needs them
    raw, mixed = tmp_path / "raw.safetensors", tmp_path / "mixed.safetensors"
    done = subprocess.run([*ship, "--raw", "--out", str(raw)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    mix = [*ship[:4], "--model", str(run / "best.safetensors"), "--start", str(raw), "--alpha", "0.25"]
    done = subprocess.run([*mix, "--out", str(mixed)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    want = 0.75 * trained.float() + 0.25 * best[key].float()  # WiSE-FT: a quarter of the way to the fine-tune
    assert torch.allclose(load_file(str(mixed))[key].float(), want, atol=1e-2)
    assert load_model(mixed).model_info["average"]["weights"] == [0.75, 0.25]
    soup = tmp_path / "soup.safetensors"
    done = subprocess.run(
        [*mix[:6], "--soup", str(raw), str(mixed), "--out", str(soup)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    want = (trained.float() + best[key].float() + load_file(str(mixed))[key].float()) / 3  # equal thirds
    assert torch.allclose(load_file(str(soup))[key].float(), want, atol=1e-2)
    done = subprocess.run([*ship, "--start", str(raw), "--alpha", "0.5"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "mix model files" in done.stderr
    assert main(["train", *common, "--root", str(synth_root), "--set", "train.ema_decay=1.5"]) == 2
    assert "ema_decay" in capsys.readouterr().err


def test_encoder_can_learn_slower_or_stay_frozen(synth_root, tmp_path):
    cfg = load_config(None, ["model.name=dirl_mobilenetv2", "data.size=64", "train.workers=0", "train.batch_size=2"])
    cfg["data"]["root"], cfg["train"]["device"] = str(synth_root), "cpu"
    cfg["train"]["encoder_lr_mult"] = 0.1
    slow = Trainer(cfg, tmp_path / "slow")
    assert sorted(g["lr"] for g in slow.optimizer.param_groups) == pytest.approx([1e-5, 1e-4])
    cfg["train"]["encoder_lr_mult"] = 0.0
    frozen = Trainer(cfg, tmp_path / "frozen")
    before = {k: v.clone() for k, v in frozen.model.state_dict().items()}
    frozen.cfg["train"]["max_steps"], frozen.cfg["train"]["validate"] = 2, False
    frozen.fit()
    after = frozen.model.state_dict()
    enc = [k for k in after if k.startswith("encoder.")]
    assert enc and all(torch.equal(before[k], after[k]) for k in enc)  # weights and BatchNorm statistics alike
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("decoder."))
    cfg["model"]["name"], cfg["train"]["encoder_lr_mult"] = "reference_centre_prior", 0.5
    with pytest.raises(ValueError, match="encoder_lr_mult"):
        Trainer(cfg, tmp_path / "none")


def test_slow_encoder_can_keep_its_batchnorm_statistics(synth_root, tmp_path):
    cfg = load_config(None, ["model.name=dirl_mobilenetv2", "data.size=64", "train.workers=0", "train.batch_size=2"])
    cfg["data"]["root"], cfg["train"]["device"] = str(synth_root), "cpu"
    cfg["train"].update(encoder_lr_mult=0.1, encoder_bn_frozen=True, max_steps=2, validate=False)
    trainer = Trainer(cfg, tmp_path / "slow_bn")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    stats = [k for k in after if k.startswith("encoder.") and k.endswith(("running_mean", "running_var"))]
    weights = [k for k in after if k.startswith("encoder.") and k.endswith("weight")]
    assert stats and all(torch.equal(before[k], after[k]) for k in stats)
    assert any(not torch.equal(before[k], after[k]) for k in weights)  # the encoder still learns
    cfg["model"]["name"] = "reference_centre_prior"
    cfg["train"]["encoder_lr_mult"] = 1.0
    with pytest.raises(ValueError, match="encoder_bn_frozen"):
        Trainer(cfg, tmp_path / "none")


def test_only_the_first_encoder_stages_can_learn(synth_root, tmp_path):
    cfg = load_config(None, ["model.name=dirl_mobilenetv2", "data.size=64", "train.workers=0", "train.batch_size=2"])
    cfg["data"]["root"], cfg["train"]["device"] = str(synth_root), "cpu"
    cfg["train"].update(encoder_stages=2, max_steps=2, validate=False)
    trainer = Trainer(cfg, tmp_path / "early")
    assert len(trainer.optimizer.param_groups) == 2  # the rest, and the two early stages
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()

    def changed(prefix: str, suffix: str) -> list[bool]:
        return [not torch.equal(before[k], after[k]) for k in after if k.startswith(prefix) and k.endswith(suffix)]

    assert any(changed("encoder.stages.0.", "weight")) and any(changed("encoder.stages.1.", "weight"))
    assert any(changed("encoder.stages.1.", "running_mean"))  # early stages learn, BatchNorm included
    for late in ("encoder.stages.2.", "encoder.stages.3.", "encoder.stages.4."):
        assert changed(late, "weight") and not any(changed(late, "weight"))
        assert changed(late, "running_mean") and not any(changed(late, "running_mean"))
    assert any(changed("decoder.", "weight"))
    cfg["model"]["name"] = "dirl_resnet34"
    with pytest.raises(ValueError, match="encoder_stages"):
        Trainer(cfg, tmp_path / "no_stages")


def test_time_budget_stops_a_chunk_that_the_next_call_resumes(synth_root, tmp_path, capsys):
    common = [*TINY, "--root", str(synth_root), "--epochs", "2", "--out", str(tmp_path / "c")]
    first = train([*common, "--set", "train.max_minutes=0.00001"], capsys)  # stops after its first step
    state = torch.load(Path(first["run_dir"]) / "last.pt", weights_only=True)
    assert state["global_step"] == 1
    train(["--resume", first["run_dir"], "--set", "train.max_minutes=0.00001"], capsys)
    assert torch.load(Path(first["run_dir"]) / "last.pt", weights_only=True)["global_step"] == 2


def test_nan_loss_stops_with_a_clear_message(synth_root, tmp_path):
    cfg = load_config(
        None,
        [
            "model.name=dirl_mobilenetv2",
            f"data.root={synth_root}",
            "data.size=32",
            "train.batch_size=2",
            "train.workers=0",
            "train.device=cpu",
        ],
    )
    trainer = Trainer(cfg, tmp_path)
    trainer.criterion = lambda out, m: {"loss": out["logits"].sum() * float("nan"), "det": 0, "att": 0}
    with pytest.raises(TrainingError, match="loss became nan at epoch 0, step 0"):
        trainer.fit()


def test_train_scales_feed_the_model_other_sizes_and_a_bad_list_is_refused(synth_root, tmp_path):
    settings = ["model.name=dirl_mobilenetv2", f"data.root={synth_root}", "data.size=64", "train.batch_size=2"]
    settings += ["train.workers=0", "train.device=cpu", "train.max_steps=4", "train.validate=false"]
    trainer = Trainer(load_config(None, [*settings, "train.scales=[0.5,1.5]"]), tmp_path / "scales")
    seen = []
    trainer.model.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape[-2:])))
    trainer.fit()
    assert set(seen) == {(32, 32), (96, 96)} and len(seen) == 4
    with pytest.raises(ValueError, match=r"train.scales: each factor must be a number in \[0.25, 4.0\]"):
        Trainer(load_config(None, [*settings, "train.scales=[0.8,9]"]), tmp_path / "bad")


def test_resume_without_state_is_an_error(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("train:\n  device: cpu\n")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "data.root is not set" in capsys.readouterr().err


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  learning_rate: 1\n")
    with pytest.raises(ValueError, match="bad.yaml: unknown config key 'train.learning_rate'"):
        load_config(bad)
    assert load_config(None, ["train.milestones=[1, 2]"])["train"]["milestones"] == [1, 2]


def test_numbers_without_a_dot_are_numbers(tmp_path):
    """PyYAML reads ``1e-3`` as a string; a learning rate written that way must still be a number."""
    cfg = load_config(None, ["train.lr=3e-3", "train.weight_decay=1E-5", "output.name=1e3x"])
    assert cfg["train"]["lr"] == 0.003 and cfg["train"]["weight_decay"] == 1e-5
    assert cfg["output"]["name"] == "1e3x"  # not a number: stays text
    (tmp_path / "c.yaml").write_text("train:\n  lr: 5e-4\n  epochs: 3\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg["train"]["lr"] == 5e-4 and cfg["train"]["epochs"] == 3


def test_two_process_ddp_keeps_ranks_identical(synth_root, tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        str(worker),
        str(synth_root),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert r0.keys() == r1.keys()
    for key in r0:
        assert torch.equal(r0[key], r1[key]), key
    torch.manual_seed(42)  # the trainer's seed: the same initial weights
    initial = dict(create_model("dirl_mobilenetv2").named_parameters())
    assert any(not torch.equal(r0[k], initial[k]) for k in r0)  # and training moved them
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2


@pytest.mark.parametrize(
    "name", ["unet", "deeplabv3", "hrnet", "mantranet_lite", "dirl_mobilenetv2_no_mda", "colour_unet_verdict"]
)
def test_every_kind_of_registered_model_trains_through_the_engine(synth_root, tmp_path, name):
    cfg = load_config(
        None,
        [
            f"model.name={name}",
            f"data.root={synth_root}",
            "data.size=64",
            "train.batch_size=2",
            "train.workers=0",
            "train.device=cpu",
            "train.max_steps=2",
            "train.checkpoint_every=0",
            "train.validate=false",
        ],
    )
    trainer = Trainer(cfg, tmp_path)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.fit()
    assert trainer.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    assert not (tmp_path / "best.safetensors").exists()  # train.validate=false: no validation, no best model
