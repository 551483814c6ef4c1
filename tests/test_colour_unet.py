"""The colour U-Net branch: its statistics ignore a global colour cast but see a local one, a warm start from a
model without it keeps that model's answer, it learns to find a recoloured region on its own, and it exports."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inharmony.data.transforms import normalize
from inharmony.layers.colour import ColourHead
from inharmony.layers.colour_unet import ColourUNet, box_mean, colour_statistics
from inharmony.models import create_model


def smooth_photos(n: int, size: int, seed: int) -> torch.Tensor:
    """n smooth colour images in [0.15, 0.85] (blurred noise), B×3×size×size."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 8, size // 8, generator=g)
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
    return 0.15 + 0.7 * x.clamp(0, 1)


@pytest.mark.parametrize("shape", [(80, 80), (20, 33)])
def test_box_mean_is_average_pooling_over_the_window_inside_the_image(shape):
    t = torch.randn(2, 3, *shape)
    for u in (t, t * t):  # as the statistics use it: values and their squares (running sums that only grow)
        for k in (3, 7, 19, 55):  # 55 is wider than the 20-px side: only pixels inside count
            want = F.avg_pool2d(u, k, stride=1, padding=k // 2, count_include_pad=False)
            assert torch.allclose(box_mean(u, k), want, atol=1e-4)


def test_statistics_ignore_a_global_cast_and_see_a_local_one():
    rgb = smooth_photos(2, 64, seed=0)
    base = colour_statistics(normalize(rgb))
    assert base.shape == (2, 18, 32, 32)
    cast = rgb * torch.tensor([1.15, 0.9, 0.8]).view(1, 3, 1, 1)  # a white-balance change of the whole image
    assert torch.allclose(colour_statistics(normalize(cast)), base, atol=1e-3)
    local = rgb.clone()
    local[:, :, 16:40, 16:40] *= torch.tensor([1.15, 0.9, 0.8]).view(1, 3, 1, 1)
    changed = (colour_statistics(normalize(local)) - base).abs()[:, :3].mean(dim=(0, 1))
    inside, outside = changed[10:18, 10:18].mean(), changed[24:, 24:].mean()
    assert inside > 0.2 and inside > 5 * outside


def test_warm_start_from_the_verdict_model_keeps_its_answer(tmp_path):
    from fakes import warm_started

    source, target, fresh = warm_started(tmp_path, "dirl_mobilenetv2_verdict", "dirl_mobilenetv2_verdict_unet")
    assert fresh and all(k.startswith(("colour_unet.", "colour_unet_head.", "colour_unet_mix")) for k in fresh)
    target.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want, got = source(x), target(x)
    assert torch.allclose(got["logits"], want["logits"], atol=1e-5)
    assert torch.allclose(got["verdict"], want["verdict"], atol=1e-5)


def recoloured_batch(n: int, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth images with a rectangle whose channels got gains of e^±(0.15..0.4) (ΔE roughly 5 to 25)."""
    g = torch.Generator().manual_seed(int(rng.integers(1 << 30)))
    rgb = 0.3 + 0.4 * F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(size, size), mode="bicubic").clamp(0, 1)
    mask = torch.zeros(n, 1, size, size)
    for b in range(n):
        h, w = rng.integers(size // 4, size // 2, 2)
        top, left = rng.integers(0, size - h), rng.integers(0, size - w)
        gain = np.exp(rng.choice([-1, 1], 3) * rng.uniform(0.15, 0.4, 3))
        box = (slice(None), slice(top, top + h), slice(left, left + w))
        rgb[b][box] = (rgb[b][box] * torch.tensor(gain, dtype=torch.float32).view(3, 1, 1)).clamp(0, 1)
        mask[b][box] = 1
    return normalize(rgb), mask


def test_the_branch_alone_learns_to_find_a_recoloured_region():
    """Trained alone (no semantic features) for 200 steps, its most confident pixels are the recoloured ones: of the
    as-many-pixels-as-the-region it ranks highest, most lie in the region (a chance ranking gets about 14 %)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net, head = ColourUNet(), ColourHead(24, 1, 24)
    opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=3e-3)
    zeros = torch.zeros(1, 1, 4, 4)

    def logits(x: torch.Tensor) -> torch.Tensor:
        out = head(net(x), zeros.expand(x.shape[0], -1, -1, -1))
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)

    for _ in range(200):
        x, mask = recoloured_batch(8, 64, rng)
        loss = F.binary_cross_entropy_with_logits(logits(x), mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval(), head.eval()
    x, mask = recoloured_batch(16, 64, np.random.default_rng(99))
    with torch.no_grad():
        scores = logits(x).flatten(1)
    truth = mask.flatten(1)
    hits = [truth[b, scores[b].topk(int(truth[b].sum())).indices].mean().item() for b in range(16)]
    assert np.mean(hits) > 0.6, hits


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_model_with_the_branch_exports_with_parity(tmp_path):
    pytest.importorskip("onnxruntime")
    from fakes import assert_onnx_parity

    torch.manual_seed(0)
    model = create_model("dirl_mobilenetv2_verdict_unet").eval()
    for p in model.colour_unet_head.out.parameters():  # not the zero start, so the branch counts in the answer
        torch.nn.init.normal_(p, std=0.1)
    assert_onnx_parity(model, tmp_path, "u")


def test_a_branch_trained_alone_grafts_into_its_carrier(tmp_path):
    from inharmony.checkpoint import CheckpointError, graft_weights, save_model
    from inharmony.engine.trainer import warm_start

    torch.manual_seed(0)
    alone = create_model("colour_unet_verdict").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = alone(x)
    assert out["logits"].shape == (2, 1, 64, 64) and out["verdict"].shape == (2,)
    branch = save_model(alone, tmp_path / "alone.safetensors")
    base_model = create_model("dirl_mobilenetv2_verdict").eval()
    base = save_model(base_model, tmp_path / "base.safetensors")
    carrier = create_model("dirl_mobilenetv2_verdict_unet")
    warm_start(carrier, base)
    names = graft_weights(carrier, branch, "colour_unet.")
    assert names and torch.equal(carrier.colour_unet.enc0[0][0].weight, alone.colour_unet.enc0[0][0].weight)
    carrier.eval()
    with torch.no_grad():  # the carrier's correction head starts at zero: it answers as the base until trained
        assert torch.allclose(carrier(x)["logits"], base_model(x)["logits"], atol=1e-5)
    with pytest.raises(CheckpointError, match="no weights named"):
        graft_weights(carrier, base, "colour_unet.")


def test_training_grafts_the_branch_and_only_the_carriers_new_weights_learn_faster(tmp_path):
    from fakes import make_synth_dataset
    from inharmony.checkpoint import read_model_file, save_model
    from inharmony.engine.config import load_config
    from inharmony.engine.trainer import Trainer

    torch.manual_seed(0)
    alone = save_model(create_model("colour_unet_verdict"), tmp_path / "alone.safetensors")
    base = save_model(create_model("dirl_mobilenetv2_verdict"), tmp_path / "base.safetensors")
    root = make_synth_dataset(tmp_path / "synth", n=6, seed=0, photos=3, size=(80, 64))
    cfg = load_config(
        None,
        [
            "model.name=dirl_mobilenetv2_verdict_unet",
            f"model.init={base}",
            f"data.root={root}",
            "data.size=64",
            "train.batch_size=2",
            "train.workers=0",
            "train.device=cpu",
            "train.max_steps=2",
            "train.validate=false",
            "train.checkpoint_every=0",
            "train.encoder_lr_mult=0",
            "train.new_lr_mult=10",
            f"model.graft={{colour_unet.: {alone}}}",  # as on the command line: --set model.graft=...
        ],
    )
    trainer = Trainer(cfg, tmp_path / "run")
    _, state = read_model_file(alone)
    assert torch.equal(trainer.model.colour_unet.enc0[0][0].weight, state["colour_unet.enc0.0.0.weight"])
    named = dict(trainer.model.named_parameters())
    fast = [g for g in trainer.optimizer.param_groups if g["lr"] == pytest.approx(1e-3)]
    assert len(fast) == 1
    fast_names = {k for k, p in named.items() if any(p is q for q in fast[0]["params"])}
    assert fast_names and all(k.startswith(("colour_unet_head.", "colour_unet_mix")) for k in fast_names)
    assert "colour_unet_mix" in fast_names
    mix = trainer.model.colour_unet_mix.detach().clone()
    trainer.fit()
    assert trainer.model.colour_unet_mix.item() != mix.item()  # the branch's answer starts to count
