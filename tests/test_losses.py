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
