"""The colour-shift question (``loss.colour_shift``, :mod:`inharmony.layers.shift_head`): its targets are the
composite minus its own twin where the change was made in place and zero on authentic photos, pasted composites are
not asked, the head runs in training only (inference and ONNX unchanged), and the trainer learns and logs it."""

import json

import pytest
import torch

from fakes import assert_onnx_parity, synthetic_trainer, warm_started
from inharmony.data.transforms import normalize
from inharmony.layers.shift_head import LIMIT, UNIT, ShiftHead, colour_shift
from inharmony.losses import colour_shift_loss, shift_targets


def _pairs():
    """Six normalised images: pair 0 (composite first, a red cast on a square), pair 1 (twin first, the composite
    darkened on another square), pair 2 (a pasted object and its donor, content -1)."""
    torch.manual_seed(0)
    rgb = torch.rand(6, 3, 16, 16) * 0.6 + 0.2
    rgb[1], rgb[2] = rgb[0], rgb[3]
    rgb[0, 0, 0:8, 0:8] *= 1.3
    rgb[3, :, 8:16, 8:16] *= 0.7
    mask = torch.zeros(6, 1, 16, 16)
    mask[0, :, 0:8, 0:8] = 1
    mask[3, :, 8:16, 8:16] = 1
    mask[4, :, 4:12, 4:12] = 1
    return normalize(rgb), mask, torch.tensor([0, 0, 1, 1, -1, -1])


def test_targets_are_the_change_made_in_place_and_zero_on_authentic_photos():
    x, mask, content = _pairs()
    targets, valid = shift_targets(x, mask, content, (2, 2))
    assert valid.tolist() == [True, True, True, True, False, True]  # the pasted composite is not asked
    assert torch.all(targets[[1, 2, 4, 5]] == 0)
    # pair 0: a 1.3 gain on red, only in the top-left quarter → +log 1.3 on red in log-opponent units
    red = float(torch.log(torch.tensor(1.3))) / UNIT  # a little less: the dark offset
    assert targets[0, 0, 0, 0].item() == pytest.approx(red / 3**0.5, rel=0.1)  # luminance row
    assert targets[0, 1, 0, 0].item() == pytest.approx(red / 2**0.5, rel=0.1)  # red–green row
    assert torch.all(targets[0, :, 1, :] == 0) and torch.all(targets[0, :, 0, 1] == 0)  # nothing where unchanged
    # pair 1: the whole bottom-right quarter darkened → a luminance shift only, negative
    assert targets[3, 0, 1, 1] < -5 and targets[3, 1:, 1, 1].abs().max() < 0.5
    assert torch.all(targets[3, :, 0, :] == 0)


def test_targets_are_clipped_and_odd_batches_work():
    x, mask, content = _pairs()
    dark = normalize(torch.full((2, 3, 8, 8), 0.001))
    bright = normalize(torch.ones(1, 3, 8, 8))
    big = colour_shift(bright, dark[:1], (1, 1))
    assert torch.all(big <= LIMIT) and big[0, 0].item() == LIMIT
    targets, valid = shift_targets(x[:5], mask[:5], content[:5], (4, 4))  # the pasted composite has no partner
    assert valid.tolist() == [True, True, True, True, False]


def test_loss_is_zero_for_the_right_answer_and_teaches_the_features():
    x, mask, content = _pairs()
    targets, _ = shift_targets(x, mask, content, (4, 4))
    assert colour_shift_loss(targets.clone(), x, mask, content) == 0
    features = torch.randn(6, 8, 4, 4, requires_grad=True)
    head = ShiftHead((8,))
    loss = colour_shift_loss(head([features]), x, mask, content)
    loss.backward()
    assert loss > 0 and features.grad.abs().sum() > 0
    # only a pasted composite and no twin: nobody is asked
    alone = colour_shift_loss(torch.randn(1, 3, 4, 4), x[4:5], mask[4:5], content[4:5])
    assert alone == 0


def test_shift_head_reads_maps_of_several_resolutions():
    head = ShiftHead((4, 6))
    out = head([torch.randn(2, 4, 8, 8), torch.randn(2, 6, 2, 2)])
    assert out.shape == (2, 3, 8, 8)


def test_model_runs_the_head_in_training_only_and_answers_as_the_verdict_model(tmp_path):
    base, model, fresh = warm_started(tmp_path, "dirl_mobilenetv2_verdict", "dirl_mobilenetv2_verdict_shift", 3)
    assert fresh and all(k.startswith("shift_head.") for k in fresh)
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        a, b = base(x), model(x)
    assert "colour_shift" not in b
    assert torch.equal(a["logits"], b["logits"]) and torch.equal(a["verdict"], b["verdict"])
    model.train()
    assert model(x)["colour_shift"].shape == (2, 3, 8, 8)  # at the 1/8 map the verdict pools
    with pytest.raises(ValueError, match="needs verdict=True"):
        from inharmony.models.dirl import DIRL

        DIRL(encoder="mobilenetv2", shift_head=True)


def test_onnx_export_is_unchanged_by_the_head(tmp_path):
    from inharmony.models import create_model

    torch.manual_seed(4)
    assert_onnx_parity(create_model("dirl_mobilenetv2_verdict_shift").eval(), tmp_path, "shift")


def _trainer(tmp_path, *overrides):
    """The shift model on tiny synthetic pairs, every change made in place (so each composite has its twin)."""
    settings = (
        "data.train_length=16",
        "data.kinds={transfer: 1.0, retouch: 0.0, lighting: 0.0, paste: 0.0}",
        "train.epochs=2",
        "train.log_every=1",
    )
    return synthetic_trainer(tmp_path, "dirl_mobilenetv2_verdict_shift", *settings, *overrides)


def test_trainer_learns_the_shift_and_logs_it(tmp_path):
    trainer = _trainer(tmp_path, "loss.colour_shift=1.0", "train.lr=3e-3")
    before = [p.detach().clone() for p in trainer.model.shift_head.parameters()]
    trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if "shift" in r]
    assert epochs and all(r["shift"] > 0 for r in epochs)
    after = list(trainer.model.shift_head.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    with pytest.raises(ValueError, match="has no shift head"):
        _trainer(tmp_path / "plain", "model.name=dirl_mobilenetv2_verdict", "loss.colour_shift=1.0")
