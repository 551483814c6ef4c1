"""train.anchor_decay: a fine-tune pulled back toward the weights it started from (decoupled L2-SP)."""

import pytest
import torch

from fakes import synthetic_trainer
from inharmony.checkpoint import read_model_file, save_model
from inharmony.models import create_model

MODEL = "dirl_mobilenetv2_verdict"


@pytest.fixture
def start(tmp_path):
    torch.manual_seed(0)
    return save_model(create_model(MODEL).eval(), tmp_path / "start.safetensors")


def _trainer(folder, start, *overrides):
    return synthetic_trainer(folder, MODEL, f"model.init={start}", "train.lr=3e-3", "train.seed=3", *overrides)


def _distance(model, start) -> float:
    _, weights = read_model_file(start)
    return sum(float((p.detach() - weights[k]).pow(2).sum()) for k, p in model.named_parameters()) ** 0.5


def test_each_step_pulls_the_learning_weights_that_fraction_back(tmp_path, start):
    trainer = _trainer(tmp_path, start, "train.anchor_decay=100")  # 3e-3 × 100: 30 % of the way per step
    _, weights = read_model_file(start)
    name, p = next((k, p) for k, p in trainer.model.named_parameters() if k.startswith("decoder."))
    with torch.no_grad():
        p.copy_(weights[name] + 1.0)
    trainer.pull_to_anchor()
    torch.testing.assert_close(p.detach(), weights[name] + 0.7)


def test_an_anchored_fine_tune_stays_nearer_its_start(tmp_path, start):
    free = _trainer(tmp_path / "free", start, "train.epochs=3")
    free.fit()
    anchored = _trainer(tmp_path / "anchored", start, "train.epochs=3", "train.anchor_decay=100")
    anchored.fit()
    moved, held = _distance(free.model, start), _distance(anchored.model, start)
    assert moved > 0 and held < 0.6 * moved


def test_a_resumed_run_pulls_toward_the_same_start(tmp_path, start):
    first = _trainer(tmp_path, start, "train.anchor_decay=10")
    first.fit()
    again = _trainer(tmp_path, start, "train.anchor_decay=10")
    again.load_state()
    _, weights = read_model_file(start)
    named = dict(again.model.named_parameters())
    name = next(k for k in named if k.startswith("decoder."))
    assert not torch.equal(named[name].detach(), weights[name])  # the resumed weights moved…
    torch.testing.assert_close(again.anchor[named[name]], weights[name])  # …the start did not


@pytest.mark.parametrize(
    "overrides, words",
    [
        (("train.anchor_decay=-1",), "must be ≥ 0"),
        (("train.anchor_decay=1000",), "below 1"),
    ],
)
def test_bad_anchor_settings_name_the_key(tmp_path, start, overrides, words):
    with pytest.raises(ValueError, match=words):
        _trainer(tmp_path, start, *overrides)


def test_an_anchor_needs_a_start(tmp_path):
    with pytest.raises(ValueError, match="needs model.init"):
        synthetic_trainer(tmp_path, MODEL, "train.anchor_decay=1")
