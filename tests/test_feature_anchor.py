"""train.feature_anchor: a learning encoder kept near the maps its start computes on the same input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fakes import synthetic_trainer
from inharmony.checkpoint import read_model_file, save_model
from inharmony.engine.feature_anchor import FeatureAnchor
from inharmony.models import create_model

MODEL = "dirl_mobilenetv2_verdict"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def start(tmp_path):
    torch.manual_seed(0)
    return save_model(create_model(MODEL).eval(), tmp_path / "start.safetensors")


def _trainer(folder, start, *overrides):
    return synthetic_trainer(
        folder,
        MODEL,
        f"model.init={start}",
        "train.lr=3e-3",
        "train.seed=3",
        "train.encoder_lr_mult=1",
        "train.encoder_bn_frozen=true",
        *overrides,
    )


def _drift(trainer, x) -> float:
    """The trained encoder's maps against its start's on ``x`` (inference mode), as the anchor measures them."""
    trainer.model.eval()
    with torch.no_grad():
        trainer.model.encoder(x)
        return float(trainer.feature_anchor.loss()) / trainer.cfg["train"]["feature_anchor"]


def test_the_anchor_is_zero_at_the_start_and_grows_as_the_encoder_moves():
    torch.manual_seed(0)
    model = create_model(MODEL).eval()
    anchor = FeatureAnchor(model, 2.0)
    x = torch.randn(2, 3, 64, 64)
    model(x)
    assert float(anchor.loss().detach()) == pytest.approx(0.0, abs=1e-9)
    with torch.no_grad():
        next(model.encoder.parameters()).add_(0.5)
    model(x)
    loss = anchor.loss()
    assert float(loss.detach()) > 1e-3
    loss.backward()  # into the learning encoder only: the start copy stays frozen
    assert next(model.encoder.parameters()).grad is not None
    assert all(p.grad is None for p in anchor.start.parameters())
    with pytest.raises(RuntimeError, match="has not run"):
        anchor.loss()  # each forward is used once


def test_an_anchored_encoder_stays_nearer_what_its_start_computes(tmp_path, start):
    torch.manual_seed(1)
    x = torch.randn(4, 3, 64, 64)
    free = _trainer(tmp_path / "free", start, "train.epochs=3", "train.feature_anchor=1e-9")  # on, but too weak to hold
    free.fit()
    anchored = _trainer(tmp_path / "anchored", start, "train.epochs=3", "train.feature_anchor=50")
    anchored.fit()
    moved, held = _drift(free, x), _drift(anchored, x)
    assert moved > 0 and held < 0.6 * moved
    rows = (tmp_path / "anchored" / "run" / "metrics.jsonl").read_text()
    assert "feature_anchor" in rows  # logged with the other losses


def test_a_resumed_run_anchors_to_the_same_start(tmp_path, start):
    first = _trainer(tmp_path, start, "train.feature_anchor=10")
    first.fit()
    again = _trainer(tmp_path, start, "train.feature_anchor=10")
    again.load_state()
    name = "stages.0.0.0.weight"
    learned = dict(again.model.encoder.named_parameters())
    anchored = dict(again.feature_anchor.start.named_parameters())
    assert not torch.equal(learned[name], anchored[name])  # the resumed encoder moved…
    torch.testing.assert_close(anchored[name], read_model_file(start)[1][f"encoder.{name}"])  # …its anchor did not


@pytest.mark.parametrize(
    "overrides, words",
    [
        (("train.feature_anchor=-1",), "must be ≥ 0"),
        (("train.feature_anchor=1", "train.encoder_lr_mult=0"), "learning encoder"),
    ],
)
def test_bad_feature_anchor_settings_name_the_key(tmp_path, start, overrides, words):
    with pytest.raises(ValueError, match=words):
        _trainer(tmp_path, start, *overrides)


def test_a_feature_anchor_needs_a_start(tmp_path):
    with pytest.raises(ValueError, match="needs model.init"):
        synthetic_trainer(tmp_path, MODEL, "train.feature_anchor=1", "train.encoder_lr_mult=1")


def test_the_feature_distance_script_measures_each_map(tmp_path, start):
    from fakes import make_photos

    photos = make_photos(tmp_path / "photos", n=3, noise=4.0)
    torch.manual_seed(5)
    moved = create_model(MODEL).eval()
    moved.load_state_dict(read_model_file(start)[1])
    with torch.no_grad():
        next(moved.encoder.parameters()).add_(0.2)
    moved_file = save_model(moved, tmp_path / "moved.safetensors")
    out = tmp_path / "d.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "feature_distance.py"), str(start), str(start), str(moved_file)]
        + ["--photos", str(photos), "--n", "3", "--size", "64", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| map 1 |" in done.stdout
    rows = json.loads(out.read_text())["distances"]
    assert rows[str(start)] == pytest.approx([0.0] * 5, abs=1e-9)  # the start against itself
    assert len(rows[str(moved_file)]) == 5 and min(rows[str(moved_file)]) > 0  # a moved first layer reaches every map
