"""Long runs survive bad data: data check, skipped samples, the bad-share limit, failed checkpoint writes."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakes import make_synth_dataset
from inharmony.cli.main import main
from inharmony.engine.trainer import loader_workers


@pytest.fixture()
def damaged(tmp_path):
    """A synthetic set whose training split has a truncated composite, a missing mask and a mis-sized mask."""
    root = make_synth_dataset(tmp_path, n=16, seed=0, photos=4, size=(64, 48))
    names = (root / "Synthetic" / "Synthetic_train.txt").read_text().split()
    comp = root / "Synthetic" / "composite_images"
    masks = root / "Synthetic" / "masks"
    truncated, missing, missized = names[0], names[1], names[2]
    data = (comp / truncated).read_bytes()
    (comp / truncated).write_bytes(data[: len(data) // 3])
    (masks / (missing.rsplit("_", 1)[0] + ".png")).unlink()
    Image.new("L", (10, 10), 255).save(masks / (missized.rsplit("_", 1)[0] + ".png"))
    return root, {truncated, missing, missized}


def test_data_check_names_every_problem(damaged, tmp_path, capsys):
    root, bad = damaged
    report = tmp_path / "report.csv"
    assert main(["data", "check", "--root", str(root), "--out", str(report), "--workers", "2"]) == 1
    out = capsys.readouterr().out
    rows = list(csv.DictReader(open(report, encoding="utf-8")))
    assert {Path(r["name"]).name for r in rows} == bad
    problems = " ".join(r["problem"] for r in rows)
    assert "file not found" in problems and "10×10" in problems and "not a readable image" in problems
    assert "3 with problems" in out


def test_data_check_passes_a_clean_set(tmp_path, capsys):
    root = make_synth_dataset(tmp_path, n=6, seed=1, photos=3, size=(64, 48))
    assert main(["data", "check", "--root", str(root)]) == 0
    assert "0 with problems" in capsys.readouterr().out


TRAIN = ["train", "--model", "dirl_mobilenetv2", "--batch-size", "2", "--device", "cpu", "--epochs", "1"]
TRAIN += ["--set", "data.size=32", "--set", "train.workers=0", "--set", "train.validate=false"]


def test_training_skips_bad_samples_and_reports_them(damaged, tmp_path, capsys):
    root, bad = damaged
    args = [*TRAIN, "--root", str(root), "--out", str(tmp_path / "runs"), "--set", "train.max_bad_share=0.5"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {Path(n).name for n in result["skipped"]} == bad
    rows = [json.loads(x) for x in (Path(result["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["skipped"] >= 3


def test_too_many_bad_samples_stop_with_one_clear_line(damaged, tmp_path, capsys):
    root, _ = damaged
    assert main([*TRAIN, "--root", str(root), "--out", str(tmp_path / "runs")]) == 2  # default limit: 1 %
    err = capsys.readouterr().err
    assert "could not be read" in err and "max_bad_share" in err and "Traceback" not in err


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, capsys, monkeypatch):
    root = make_synth_dataset(tmp_path, n=8, seed=2, photos=3, size=(64, 48))
    args = [*TRAIN, "--root", str(root), "--out", str(tmp_path / "runs"), "--max-steps", "1"]
    assert main(args) == 0
    run = Path(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_dir"])
    before = torch.load(run / "last.pt", weights_only=True)

    def full_disk(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    assert main(["train", "--resume", str(run), "--set", "train.max_steps=2"]) == 2
    err = capsys.readouterr().err
    assert "could not write the checkpoint" in err and "No space left" in err and "Traceback" not in err
    after = torch.load(run / "last.pt", weights_only=True)
    assert after["global_step"] == before["global_step"] == 1
    assert not [p for p in run.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_loader_workers_fit_the_machine(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert loader_workers("auto") == max(0, min(16, (os.cpu_count() or 1) - 1))
    assert loader_workers("auto", cores=2) == 1  # this machine: one worker beside the training process
    assert loader_workers("auto", cores=16) == 15  # a lent GPU machine: composites need many workers
    assert loader_workers("auto", cores=128) == 16
    assert loader_workers("auto", cores=16, local_processes=8) == 1  # 8 GPUs under torchrun share 16 cores
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert loader_workers("auto", cores=16) == 3
    assert loader_workers("auto", cores=1) == 0
    assert loader_workers(3) == 3


def test_unreadable_photo_in_the_stream_costs_one_draw(tmp_path):
    from fakes import make_photos
    from inharmony.data.synth.photos import index_photos
    from inharmony.data.synth.stream import SyntheticPairs

    folder = make_photos(tmp_path / "p", n=3, noise=4.0)
    photos, _ = index_photos(folder, test_fraction=0.0)
    Path(photos[0].path).write_bytes(b"\xff\xd8 truncated")
    ds = SyntheticPairs(photos, 12, size=32)
    items = [ds[i] for i in range(12)]
    assert all(np.isfinite(it["image"].numpy()).all() for it in items)


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "nope.jpg", "--model", "missing.safetensors"],
        ["evaluate", "--model", "reference_nothing", "--data", "x=missing_dir"],
        ["train", "--model", "dirl_mobilenetv2", "--root", "missing_dir"],
        ["train", "--resume", "missing_run"],
        ["export", "--model", "missing.safetensors", "--out", "m.onnx"],
        ["serve", "--model", "missing.safetensors"],
        ["visualize-attention", "missing.jpg", "--out", "a.png", "--model", "reference_nothing"],
        ["compare", "--models", "not_a_model", "--root", "missing_dir", "--steps", "1", "--out", "cmp"],
        ["data", "le50", "--root", "missing_dir"],
        ["data", "check", "--root", "missing_dir"],
        ["data", "synth", "--photos", "missing_dir", "--out", "o", "--n", "1"],
        ["data", "objects", "--photos", "missing_dir", "--out", "o"],
        ["data", "stats", "--root", "missing_dir"],
    ],
)
def test_expected_errors_are_one_clear_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"inharmony {argv[0]}: error: ") and "\n" not in err and "Traceback" not in err


def test_a_command_needing_an_extra_says_which(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None; from inharmony.cli.main import main;"
        "sys.exit(main(['train', '--model', 'dirl_mobilenetv2', '--root', 'missing']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-1000:]
    assert "pip install 'inharmony[train]'" in done.stderr and "Traceback" not in done.stderr
