import pytest
import torch
import torch.nn.functional as F

from inharmony.losses import DIRLLoss, SegmentationLoss, soft_iou_loss, ssim_loss


def direct_ssim(x, y, window=11, sigma=1.5):
    """SSIM written out: Gaussian window, reflect padding, C1 = 0.01², C2 = 0.03²."""
    coords = torch.arange(window, dtype=torch.float64) - window // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :])[None, None]
    pad = window // 2

    def blur(t):
        return F.conv2d(F.pad(t, (pad,) * 4, mode="reflect"), k)

    x, y = x.double(), y.double()
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))).mean()


def test_ssim_matches_direct_computation():
    torch.manual_seed(0)
    p = torch.rand(2, 1, 24, 20)
    m = (torch.rand(2, 1, 24, 20) > 0.5).float()
    assert ssim_loss(p, m).item() == pytest.approx(1 - direct_ssim(p, m).item(), abs=1e-5)
    assert ssim_loss(m, m).item() == pytest.approx(0.0, abs=1e-6)


def test_soft_iou_values():
    m = torch.zeros(1, 1, 8, 8)
    m[..., :4, :] = 1
    assert soft_iou_loss(m, m).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_iou_loss(1 - m, m).item() == pytest.approx(1.0, abs=1e-6)
    half = torch.full_like(m, 0.5)
    # Σ(PM) = 16, ΣP + ΣM − Σ(PM) = 32 + 32 − 16 = 48.
    assert soft_iou_loss(half, m).item() == pytest.approx(1 - 16 / 48, abs=1e-6)


def test_segmentation_loss_terms_switch_and_logits_equal_probabilities():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 16, 16)
    m = (torch.rand(2, 1, 16, 16) > 0.5).float()
    bce_only = SegmentationLoss(ssim=0, iou=0)(logits, m)
    assert bce_only.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, m).item(), rel=1e-6)
    full = SegmentationLoss()(logits, m)
    no_iou = SegmentationLoss(iou=0)(logits, m)
    assert full.item() == pytest.approx(no_iou.item() + soft_iou_loss(torch.sigmoid(logits), m).item(), rel=1e-5)
    from_prob = SegmentationLoss()(torch.sigmoid(logits), m, logits=False)
    assert from_prob.item() == pytest.approx(full.item(), rel=1e-4)


def test_dirl_loss_weights_attention():
    torch.manual_seed(0)
    m = (torch.rand(1, 1, 16, 16) > 0.5).float()
    outputs = {"logits": torch.randn(1, 1, 16, 16), "attention": [torch.rand(1, 1, 16, 16) for _ in range(5)]}
    one = DIRLLoss(lambda_att=1.0)(outputs, m)
    ten = DIRLLoss(lambda_att=10.0)(outputs, m)
    none = DIRLLoss(lambda_att=0.0)(outputs, m)
    assert one["att"].item() > 0
    assert ten["loss"].item() == pytest.approx(one["det"].item() + 10 * one["att"].item(), rel=1e-5)
    assert none["loss"].item() == pytest.approx(one["det"].item(), rel=1e-6)


def test_region_targets_ask_each_in_place_twin_about_its_composites_region():
    from inharmony.losses import region_targets

    mask = torch.zeros(6, 1, 4, 4)
    mask[0, :, 0:2, 0:2] = 1  # pair 0: composite first, its twin second
    mask[3, :, 2:4, 2:4] = 1  # pair 1: twin first, composite second
    mask[4, :, 1:3, 1:3] = 1  # pair 2: a pasted object and its donor photo (other content)
    regions, labels, valid = region_targets(mask, torch.tensor([0, 0, 1, 1, -1, -1]))
    assert labels.tolist() == [1, 0, 0, 1, 1, 0]
    assert valid.tolist() == [True, True, True, True, True, False]  # the donor has no region to be asked about
    assert torch.equal(regions[1], mask[0]) and torch.equal(regions[2], mask[3])
    assert torch.equal(regions[[0, 3, 4]], mask[[0, 3, 4]]) and regions[5].sum() == 0


def test_region_verdict_loss_teaches_the_head_and_the_features_it_pools():
    from inharmony.layers.verdict_head import VerdictHead
    from inharmony.losses import region_verdict_loss

    torch.manual_seed(0)
    head = VerdictHead((4,), hidden=8)
    maps = [torch.randn(4, 4, 8, 8, requires_grad=True)]
    mask = torch.zeros(4, 1, 16, 16)
    mask[0, :, 2:8, 2:8] = 1
    mask[2, :, 8:14, 4:12] = 1
    loss = region_verdict_loss(head, maps, mask, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert loss > 0 and maps[0].grad.abs().sum() > 0 and head.mlp[0].weight.grad.abs().sum() > 0
    assert region_verdict_loss(head, maps, torch.zeros(4, 1, 16, 16), torch.tensor([0, 0, 1, 1])) == 0
