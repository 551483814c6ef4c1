"""The low-level verdict term (colour and early encoder maps in and around the candidate) and training the image-level
answer alone: it starts as the model it was warm-started from, learns a colour difference the deep features do not
carry, exports to ONNX, and ``train.trainable`` / ``train.select`` freeze the localiser and pick by the AUROC."""

import numpy as np
import pytest
import torch

from fakes import fit_and_score, synthetic_trainer, warm_started
from inharmony.layers.verdict_lowlevel import LowLevelVerdict, masked_std, ring_around
from inharmony.models import create_model


def test_ring_is_the_band_just_outside_the_candidate():
    prob = torch.zeros(1, 1, 50, 50)
    prob[..., 20:30, 20:30] = 1.0
    ring = ring_around(prob, width=0.04)  # 2 px on a 50 px side
    assert ring[..., 20:30, 20:30].sum() == 0  # nothing inside
    assert torch.all(ring[..., 18:20, 18:32] == 1) and torch.all(ring[..., 30:32, 18:32] == 1)
    assert ring.sum() == 14 * 14 - 10 * 10  # and nothing beyond the band


def test_masked_std_matches_numpy():
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 8, 8)
    weight = (torch.rand(2, 1, 8, 8) > 0.5).float()
    got = masked_std(feats, weight)
    for b in range(2):
        chosen = feats[b].numpy()[:, weight[b, 0].numpy() > 0]
        assert np.allclose(got[b].numpy(), chosen.std(axis=1), atol=1e-3)


def test_warm_started_model_answers_as_before(tmp_path):
    base, model, fresh = warm_started(tmp_path, "dirl_mobilenetv2_verdict", "dirl_mobilenetv2_verdict_lowlevel", 2)
    assert fresh and all(k.startswith("verdict_lowlevel.") for k in fresh)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = base(x), model(x)
    assert torch.equal(a["verdict"], b["verdict"]) and torch.equal(a["logits"], b["logits"])
    with pytest.raises(ValueError, match="needs a verdict head"):
        from inharmony.models.dirl import DIRL

        DIRL(encoder="mobilenetv2", verdict_lowlevel=True)


def test_lowlevel_term_learns_a_colour_shift_inside_the_candidate():
    """Images whose candidate region is recoloured only on composites, the region drawn from the same noise as the
    rest otherwise: the term learns to tell them apart (> 90 % on fresh samples) from colour alone (no encoder maps)."""
    torch.manual_seed(0)

    def batch(n=48):
        prob = torch.zeros(n, 1, 32, 32)
        x = torch.randn(n, 3, 32, 32) * 0.3
        label = (torch.arange(n) % 2).float()
        for i in range(n):
            r, c = torch.randint(0, 18, (2,)).tolist()
            prob[i, :, r : r + 12, c : c + 12] = 1.0
            if label[i]:
                x[i, :, r : r + 12, c : c + 12] += torch.tensor([0.8, -0.6, 0.4]).view(3, 1, 1) * torch.randn(())
        return prob, x, [], label

    head = LowLevelVerdict(channels=(), hidden=16)
    assert fit_and_score(head, batch) > 0.9


def test_onnx_export_keeps_the_lowlevel_term(tmp_path):
    pytest.importorskip("onnxruntime")
    from fakes import assert_onnx_parity

    torch.manual_seed(3)
    model = create_model("dirl_mobilenetv2_verdict_lowlevel").eval()
    torch.nn.init.normal_(model.verdict_lowlevel.mlp[-1].weight, std=0.5)  # a term that moves the answer
    assert_onnx_parity(model, tmp_path, "lowlevel")


def _trainer(tmp_path, *overrides):
    """A verdict model with the low-level term (overrides may name another) on tiny synthetic pairs."""
    return synthetic_trainer(tmp_path, "dirl_mobilenetv2_verdict_lowlevel", *overrides)


def test_trainable_freezes_everything_else_batchnorm_included(tmp_path):
    trainer = _trainer(tmp_path, "train.trainable=[verdict_head, verdict_lowlevel]", "train.select=auroc")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    learned = {k for k in before if not torch.equal(before[k], after[k])}
    assert learned and all(k.startswith(("verdict_head.", "verdict_lowlevel.")) for k in learned)
    # the verdict's own BatchNorm statistics follow the data, nobody else's do
    assert any(k.startswith("verdict_lowlevel.norms") and k.endswith("running_mean") for k in learned)
    assert all(
        p.requires_grad == n.startswith(("verdict_head.", "verdict_lowlevel."))
        for n, p in trainer.model.named_parameters()
    )


def test_trainable_and_select_are_checked(tmp_path):
    with pytest.raises(ValueError, match="no module with weights named \\['verdict_extra'\\]"):
        _trainer(tmp_path / "a", "train.trainable=[verdict_extra]")
    with pytest.raises(ValueError, match="non-empty list"):
        _trainer(tmp_path / "b", "train.trainable=verdict_head")
    with pytest.raises(ValueError, match="train.select must be"):
        _trainer(tmp_path / "c", "train.select=AP")


def test_select_auroc_keeps_the_model_with_the_best_image_score(tmp_path):
    from inharmony.checkpoint import read_model_file

    trainer = _trainer(tmp_path, "train.trainable=[verdict_head]", "train.select=auroc")
    summary = trainer.validate()
    assert trainer.best_iou == summary["auroc"]
    meta, _ = read_model_file(tmp_path / "run" / "best.safetensors")
    trainer.best_iou = 2.0  # an AUROC no validation reaches: best.safetensors stays as it is
    (tmp_path / "run" / "best.safetensors").unlink()
    trainer.validate()
    assert not (tmp_path / "run" / "best.safetensors").exists()


def test_own_stages_start_as_the_encoders_and_learn_for_the_verdict_alone(tmp_path):
    base, model, fresh = warm_started(tmp_path, "dirl_mobilenetv2_verdict", "dirl_mobilenetv2_verdict_lowlevel_own", 4)
    fresh = model.fill_fresh(fresh)
    assert fresh and not any(k.startswith("verdict_lowlevel.encoder.") for k in fresh)  # copied, not fresh
    own, encoder = model.verdict_lowlevel.encoder.stages.state_dict(), model.encoder.stages[:3].state_dict()
    assert own.keys() == encoder.keys() and all(torch.equal(own[k], encoder[k]) for k in own)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["verdict"], base(x)["verdict"])
    torch.nn.init.normal_(model.verdict_lowlevel.mlp[-1].weight, std=0.5)
    model.train()
    norms = [m for m in model.verdict_lowlevel.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)  # statistics kept as copied
    model(x)["verdict"].sum().backward()
    assert model.verdict_lowlevel.encoder.stages[0][0][0].weight.grad.abs().sum() > 0


def test_region_verdict_term_trains_and_is_logged(tmp_path):
    import json

    trainer = _trainer(tmp_path, "model.name=dirl_mobilenetv2_verdict", "loss.region_verdict=1.0")
    trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows and "region" in rows[-1] and rows[-1]["region"] > 0
    with pytest.raises(ValueError, match="has no verdict head"):
        _trainer(tmp_path / "plain", "model.name=dirl_mobilenetv2", "loss.region_verdict=1.0")
