"""The comparison head: deviation from the rest of the image, its own loss, a warm start that keeps the answer,
ONNX parity, and that it learns a region whose features differ from the rest."""

import pytest
import torch

from inharmony.layers.relative import RelativeHead
from inharmony.losses import DIRLLoss
from inharmony.models import create_model


def test_deviation_is_zero_when_every_pixel_has_the_same_features_and_marks_an_odd_patch():
    torch.manual_seed(0)
    head = RelativeHead((4,), code=4, width=8).eval()
    flat = torch.ones(1, 4, 16, 16) * torch.randn(1, 4, 1, 1)
    prob = torch.zeros(1, 1, 32, 32)
    assert head.deviation([flat], prob).abs().max() < 1e-6
    odd = flat.clone()
    odd[:, :, 4:8, 4:8] += 3.0
    d = head.deviation([odd], prob)[0, 0]
    assert d[4:8, 4:8].mean() > 10 * d[10:, 10:].mean()  # the patch deviates, the rest sits at the reference


def test_warm_start_from_the_verdict_model_keeps_its_answer_and_the_head_has_its_own_loss():
    from inharmony.engine.trainer import NEW_BRANCHES

    torch.manual_seed(0)
    base = create_model("dirl_mobilenetv2_verdict").eval()
    model = create_model("dirl_mobilenetv2_verdict_relative").eval()
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(NEW_BRANCHES) for k in missing)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want, got = base(x), model(x)
    assert torch.allclose(got["logits"], want["logits"], atol=1e-5)  # relative_mix starts at 0
    assert got["relative_logits"].shape == (2, 1, 64, 64)
    model.train()
    mask = torch.zeros(2, 1, 64, 64)
    mask[0, :, 8:30, 10:40] = 1.0
    out = model(x)
    losses = DIRLLoss()(out, mask)
    assert float(losses["relative"]) > 0
    losses["loss"].backward()
    head_grads = [p.grad for p in model.relative_head.body.parameters()]
    assert all(g is not None for g in head_grads) and any(g.abs().sum() > 0 for g in head_grads)
    assert model.relative_mix.grad is not None and model.relative_mix.grad.abs() > 0


def test_the_head_learns_a_region_whose_features_differ():
    """Random feature maps in which the masked region is shifted by a random direction per image: trained with
    its own loss, the head must rank the region's pixels first (authentic samples have no shift)."""
    torch.manual_seed(0)
    head = RelativeHead((6,), code=4, width=16)
    seg = DIRLLoss().seg
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)

    def batch(n=16):
        feats, mask = torch.randn(n, 6, 16, 16) * 0.5, torch.zeros(n, 1, 16, 16)
        for i in range(0, n, 2):  # even: composite, odd: authentic
            r, c = torch.randint(0, 10, (2,)).tolist()
            mask[i, :, r : r + 6, c : c + 6] = 1.0
        feats = feats + mask * torch.randn(n, 6, 1, 1).sign() * 1.5
        return feats, mask

    for _ in range(150):
        feats, mask = batch()
        loss = seg(head([feats], torch.zeros(16, 1, 16, 16)), mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    feats, mask = batch()
    with torch.no_grad():
        scores = head([feats], torch.zeros(16, 1, 16, 16)).flatten(1)
    hits = [mask[b].flatten()[scores[b].topk(36).indices].mean().item() for b in range(0, 16, 2)]
    assert sum(hits) / len(hits) > 0.8, hits


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_model_with_the_head_exports_with_parity(tmp_path):
    pytest.importorskip("onnxruntime")
    from fakes import assert_onnx_parity

    torch.manual_seed(0)
    model = create_model("dirl_mobilenetv2_verdict_relative").eval()
    with torch.no_grad():
        model.relative_mix.fill_(0.5)  # not the zero start, so the head counts in the answer
    assert_onnx_parity(model, tmp_path, "r")
