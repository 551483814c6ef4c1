"""The verdict head: gating arithmetic, what the loss teaches from composites and authentic photos, that it can
learn an inside-vs-outside colour difference, warm start from a model without it, and ONNX parity."""

import pytest
import torch

from fakes import fit_and_score, warm_started
from inharmony.layers.verdict_head import VerdictHead, gated_logits
from inharmony.losses import DIRLLoss
from inharmony.models import create_model


def test_gated_logits_is_the_product_of_probabilities_and_stays_finite():
    a = torch.tensor([-30.0, -2.0, 0.0, 3.0, 40.0]).view(5, 1, 1, 1)
    v = torch.tensor([40.0, 1.0, -1.0, 0.5, 40.0])
    got = torch.sigmoid(gated_logits(a, v)).flatten()
    want = (torch.sigmoid(a).flatten() * torch.sigmoid(v)).clamp(1e-6, 1 - 1e-6)
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.isfinite(gated_logits(a, v)).all()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("dirl_mobilenetv2_verdict")


def test_outputs_gate_the_mask_and_keep_its_ranking(model):
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out["verdict"].shape == (2,) and out["mask_logits"].shape == out["logits"].shape == (2, 1, 64, 64)
    gate = torch.sigmoid(out["verdict"]).view(2, 1, 1, 1)
    want = (torch.sigmoid(out["mask_logits"]) * gate).clamp(1e-6)
    assert torch.allclose(torch.sigmoid(out["logits"]), want, atol=1e-5)
    # a per-image scalar gate keeps the order of the pixels, so per-image AP is the localiser's own
    for b in range(2):
        order_mask = torch.argsort(out["mask_logits"][b].flatten())
        gated = out["logits"][b].flatten()[order_mask]
        assert (gated[1:] >= gated[:-1] - 1e-5).all()


def test_authentic_samples_teach_the_verdict_not_the_mask(model):
    model.train()
    x = torch.randn(4, 3, 64, 64)
    mask = torch.zeros(4, 1, 64, 64)
    mask[0, :, 10:30, 20:40] = 1.0
    mask[2, :, 30:60, 5:25] = 1.0
    out = model(x)
    out["mask_logits"].retain_grad()
    out["verdict"].retain_grad()
    losses = DIRLLoss()(out, mask)
    losses["loss"].backward()
    grad = out["mask_logits"].grad
    assert grad[[0, 2]].abs().sum() > 0  # composites teach the mask
    assert grad[[1, 3]].abs().sum() == 0  # authentic samples do not: silence is no cheaper answer
    assert (out["verdict"].grad[[1, 3]] > 0).all() and (out["verdict"].grad[[0, 2]] < 0).all()
    only_authentic = DIRLLoss()(model(x[[1, 3]]), mask[[1, 3]])
    assert float(only_authentic["det"]) == 0.0 and float(only_authentic["verdict"]) > 0.0


def test_pair_term_ranks_each_composite_above_its_own_twin():
    from inharmony.losses import pair_ranking_loss

    keep = torch.tensor([True, False, False, True, True, True, False, False])  # pairs: c|t, t|c, c|c, t|t
    v = torch.tensor([2.0, -1.0, 0.5, 0.0, 3.0, -3.0, 1.0, 1.0], requires_grad=True)
    loss = pair_ranking_loss(v, keep)
    want = (torch.nn.functional.softplus(torch.tensor(-3.0)) + torch.nn.functional.softplus(torch.tensor(0.5))) / 2
    assert torch.isclose(loss, want)  # only the two composite/twin pairs count
    loss.backward()
    assert v.grad[0] < 0 and v.grad[1] > 0 and v.grad[3] < 0 and v.grad[2] > 0  # composite up, twin down
    assert (v.grad[4:] == 0).all()
    assert pair_ranking_loss(v, torch.ones(8, dtype=torch.bool)).detach().item() == 0.0  # iHarmony4: no twins, no term
    assert pair_ranking_loss(v[:3], keep[:3]).detach().item() == float(torch.nn.functional.softplus(torch.tensor(-3.0)))


def test_dense_pair_term_ranks_composite_pixels_above_the_twin_inside_the_region():
    from inharmony.losses import dense_pair_loss

    mask = torch.zeros(6, 1, 8, 8)
    mask[0, :, 2:6, 2:6] = 1.0  # pair 0: composite first
    mask[3, :, 0:4, 0:8] = 1.0  # pair 1: twin first
    mask[5, :, 1:3, 1:3] = 1.0  # pair 2: a composite and a twin of other content (ids differ)
    content = torch.tensor([4, 4, 7, 7, 9, -1])
    logits = torch.zeros(6, 1, 8, 8, requires_grad=True)
    with torch.no_grad():
        logits[0, :, 2:6, 2:6] = 3.0  # already ranked above its twin inside the region
        logits[3] = -2.0  # ranked below its twin (0) everywhere
    loss = dense_pair_loss(logits, mask, content)
    softplus = torch.nn.functional.softplus
    assert torch.isclose(loss, (softplus(torch.tensor(-3.0)) + softplus(torch.tensor(2.0))) / 2)
    loss.backward()
    g = logits.grad
    assert (g[0, 0][mask[0, 0] > 0] < 0).all() and (g[1, 0][mask[0, 0] > 0] > 0).all()  # composite up, twin down
    assert (g[0, 0][mask[0, 0] == 0] == 0).all()  # outside the region: nothing to compare
    assert (g[3, 0][mask[3, 0] > 0] < 0).all() and (g[2, 0][mask[3, 0] > 0] > 0).all()
    assert (g[4:] == 0).all()  # other content: skipped
    assert float(dense_pair_loss(logits, mask, torch.full((6,), -1))) == 0.0
    assert float(dense_pair_loss(logits[:1], mask[:1], content[:1])) == 0.0


def _composite_twin_pairs(model) -> tuple[dict, torch.Tensor]:
    """The model's training output on four images, (composite, twin), (twin, composite), and their masks."""
    model.train()
    x, mask = torch.randn(4, 3, 64, 64), torch.zeros(4, 1, 64, 64)
    mask[0, :, 10:30, 20:40] = 1.0
    mask[3, :, 30:60, 5:25] = 1.0
    return model(x), mask


def test_dense_pair_weight_needs_content_and_adds_the_term(model):
    out, mask = _composite_twin_pairs(model)
    plain, dense = DIRLLoss()(out, mask), DIRLLoss(lambda_dense=0.5)(out, mask, content=torch.tensor([0, 0, 1, 1]))
    assert "dense" not in plain and float(dense["dense"]) > 0
    assert torch.isclose(dense["loss"], plain["loss"] + 0.5 * dense["dense"])
    with pytest.raises(ValueError, match="content"):
        DIRLLoss(lambda_dense=0.5)(out, mask)


def test_pair_weight_adds_the_term_to_the_verdict_loss(model):
    out, mask = _composite_twin_pairs(model)
    plain, paired = DIRLLoss()(out, mask), DIRLLoss(lambda_pair=2.0)(out, mask)
    assert "pair" not in plain and float(paired["pair"]) > 0
    assert torch.isclose(paired["loss"], plain["loss"] + 2.0 * paired["pair"])


def test_verdict_head_learns_an_inside_outside_difference():
    """Feature maps where the candidate region differs from the rest only on composites: the head must learn to
    tell them apart (> 95 % on fresh samples) from the pooled inside/outside statistics."""
    torch.manual_seed(0)

    def batch(n=64):
        prob = torch.zeros(n, 1, 16, 16)
        for i in range(n):
            r, c = torch.randint(0, 10, (2,)).tolist()
            prob[i, :, r : r + 6, c : c + 6] = 1.0
        feats = torch.randn(n, 4, 16, 16) * 0.5
        label = (torch.arange(n) % 2).float()
        shift = torch.randn(n, 4, 1, 1).sign() * 1.0
        feats = feats + prob * shift * label.view(n, 1, 1, 1)
        return prob, [feats], label

    head = VerdictHead((4,), hidden=16)
    assert fit_and_score(head, batch) > 0.95


def test_warm_start_from_a_model_without_the_head(tmp_path):
    colour, target, fresh = warm_started(tmp_path, "dirl_mobilenetv2_colour", "dirl_mobilenetv2_verdict", seed=1)
    assert fresh and all(k.startswith("verdict_head.") for k in fresh)
    assert torch.equal(target.colour_stream.body[0][0].weight, colour.colour_stream.body[0][0].weight)


def test_contrast_only_verdict_ignores_what_region_and_scene_are(model, tmp_path):
    from inharmony.checkpoint import save_model
    from inharmony.engine.trainer import warm_start

    head = VerdictHead((4,), hidden=8, contrast_only=True).eval()
    plain = VerdictHead((4,), hidden=8).eval()
    plain.load_state_dict(head.state_dict())
    prob = torch.zeros(2, 1, 8, 8)
    prob[:, :, 2:6, 2:6] = 1.0
    feats = torch.randn(1, 4, 8, 8).repeat(2, 1, 1, 1)
    feats[1] += torch.tensor([3.0, -2.0, 1.0, 0.5]).view(4, 1, 1)  # the same contrast on another content
    with torch.no_grad():
        assert torch.allclose(head(prob, [feats])[0], head(prob, [feats])[1], atol=1e-5)
        assert not torch.allclose(plain(prob, [feats])[0], plain(prob, [feats])[1], atol=1e-3)
        changed = feats.clone()
        changed[0, :, 2:6, 2:6] += 1.0  # a different contrast does move it
        assert not torch.allclose(head(prob, [changed])[0], head(prob, [feats])[0], atol=1e-4)
    path = save_model(model, tmp_path / "verdict.safetensors")
    contrast = create_model("dirl_mobilenetv2_verdict_contrast")
    assert warm_start(contrast, path) == []  # the same weights: either kind starts from the other
    assert contrast.verdict_head.contrast_only and not model.verdict_head.contrast_only


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    """The verdict model as a model file and its ONNX export (checked against it by the command)."""
    pytest.importorskip("onnxruntime")
    from inharmony.checkpoint import save_model
    from inharmony.cli.main import main

    folder = tmp_path_factory.mktemp("exported")
    model.eval()
    path = save_model(model, folder / "v.safetensors", info={"size": 64})
    assert main(["export", "--model", str(path), "--out", str(folder / "v.onnx"), "--check"]) == 0
    return path, folder / "v.onnx"


def test_onnx_export_keeps_the_gate(model, exported):
    from inharmony.export import OnnxModule

    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        want = torch.sigmoid(model(x)["logits"])
    got = torch.sigmoid(OnnxModule(exported[1])(x)["logits"])
    assert (want - got).abs().max() <= 1e-3


def test_candidate_map_where_the_region_would_be_through_every_interface(exported, tmp_path):
    """The localiser's map before the gate (what a user asks "where, if anywhere?") reaches the Python API on
    both backends, the CLI and the REST API; a model without a verdict head has none."""
    pytest.importorskip("onnxruntime")
    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from fakes import tiny_model_file
    from inharmony.cli.main import main
    from inharmony.inference import Predictor
    from inharmony.web.app import create_app

    path, onnx_path = exported
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    preds = [Predictor.from_checkpoint(str(p), device="cpu").predict(image) for p in (path, onnx_path)]
    for pred in preds:
        assert pred.candidate.shape == (50, 70) and 0 <= pred.candidate.min() <= pred.candidate.max() <= 1
        assert (pred.low <= pred.candidate_low + 1e-5).all()  # the gate only lowers it: p = candidate × verdict
        ratio = pred.low / pred.candidate_low
        assert ratio.max() - ratio.min() < 1e-3  # one verdict per image
    assert np.abs(preds[0].candidate - preds[1].candidate).max() < 1e-3  # ONNX carries it too
    Image.fromarray(image).save(tmp_path / "x.png")
    assert main(["predict", str(tmp_path / "x.png"), "--model", str(path), "--out", str(tmp_path / "o"),
                 "--save", "mask,candidate", "--workers", "0"]) == 0  # fmt: skip
    assert Image.open(tmp_path / "o" / "x_candidate.png").size == (70, 50)
    plain = tiny_model_file(tmp_path / "plain")
    assert Predictor.from_checkpoint(str(plain), device="cpu").predict(image).candidate is None
    assert main(["predict", str(tmp_path / "x.png"), "--model", str(plain), "--out", str(tmp_path / "p"),
                 "--save", "candidate", "--workers", "0"]) == 0  # fmt: skip
    assert not (tmp_path / "p" / "x_candidate.png").exists()
    assert main(["predict", str(tmp_path / "x.png"), "--out", str(tmp_path / "q"), "--save", "nope"]) == 2
    with TestClient(create_app(models={"v": str(path)})) as client:
        body = client.post("/v1/localize", files={"image": ("x.png", open(tmp_path / "x.png", "rb"))}).json()
        assert body["candidate_png"] and body["inharmonious"] in (True, False)


def test_colour_mapper_starts_as_identity_and_learns_a_spatial_colour_change():
    """MadisNet's mapping: the identity at first (a warm-started localiser sees its usual input); trained, its
    bilateral grid can reproduce a colour change that differs between the two halves of the image."""
    from inharmony.data.transforms import IMAGENET_MEAN, IMAGENET_STD
    from inharmony.layers.colour_mapping import ColourMapper

    torch.manual_seed(0)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    rgb = torch.rand(2, 3, 64, 64) * 0.6 + 0.2
    x = (rgb - mean) / std
    mapper = ColourMapper(grid=4, bins=4)
    with torch.no_grad():
        assert torch.allclose(mapper(x), x, atol=1e-5)
    target_rgb = rgb.clone()
    target_rgb[..., :32] = target_rgb[..., :32] * torch.tensor([1.2, 0.9, 0.7]).view(1, 3, 1, 1)
    target = (target_rgb - mean) / std
    with torch.no_grad():
        before = float((mapper(x) - target).abs().mean())
    opt = torch.optim.Adam(mapper.parameters(), lr=3e-3)
    for _ in range(200):
        loss = (mapper(x) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.detach().item() < 0.3 * before


class _Stub(torch.nn.Module):
    """Fixed outputs: a candidate region everywhere (or nowhere) and a verdict that says no."""

    def __init__(self, candidate: float) -> None:
        super().__init__()
        self.candidate = candidate
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        shape = (x.shape[0], 1, *x.shape[-2:])
        return {
            "logits": torch.full(shape, -20.0),
            "mask_logits": torch.full(shape, self.candidate),
            "verdict": torch.full((x.shape[0],), -20.0),
            "attention": [],
        }


def test_collapse_guard_watches_the_localiser_not_the_gate(tmp_path):
    from fakes import make_synth_dataset
    from inharmony.engine.config import load_config
    from inharmony.engine.trainer import Trainer, TrainingError

    root = make_synth_dataset(tmp_path / "data", n=6, seed=0, photos=3, size=(64, 64))
    cfg = load_config(
        None,
        [
            "model.name=dirl_mobilenetv2_plain_verdict",
            f"data.root={root}",
            "data.size=32",
            "train.batch_size=2",
            "train.workers=0",
            "train.device=cpu",
            "train.collapse_patience=1",
        ],
    )
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.best_iou = float("inf")  # no best.safetensors for a stub
    trainer.model = _Stub(candidate=5.0)
    summary = trainer.validate()  # the gate is shut, the localiser is not silent: no collapse
    assert summary["area_composite"] == 0.0 and summary["area_candidate"] == 1.0
    trainer.model = _Stub(candidate=-20.0)
    with pytest.raises(TrainingError, match="collapsing to silence"):
        trainer.validate()


def test_flip_test_averages_the_image_and_its_mirror(model, tmp_path):
    """``flip_test`` (a test-time option stored with the model): evaluation averages the answers for the image
    and its mirror, flipped back; training sees one pass; ONNX export keeps both passes."""
    from inharmony.checkpoint import load_model, save_model
    from inharmony.export import OnnxModule, export_onnx

    flipped = create_model("dirl_mobilenetv2_verdict", flip_test=True)
    flipped.load_state_dict(model.state_dict())
    model.eval(), flipped.eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    x[:, :, :, :32] += 1.0  # not mirror-symmetric
    with torch.no_grad():
        a, b, got = model(x), model(x.flip(-1)), flipped(x)
    want_mask = 0.5 * (a["mask_logits"] + b["mask_logits"].flip(-1))
    want_verdict = 0.5 * (a["verdict"] + b["verdict"])
    assert torch.allclose(got["mask_logits"], want_mask, atol=1e-5)
    assert torch.allclose(got["verdict"], want_verdict, atol=1e-5)
    assert torch.allclose(got["logits"], gated_logits(want_mask, want_verdict), atol=1e-4)
    assert (got["mask_logits"] - a["mask_logits"]).abs().max() > 1e-5  # the mirror did count
    for att, one, mirror in zip(got["attention"], a["attention"], b["attention"]):
        assert torch.allclose(att, 0.5 * (one + mirror.flip(-1)), atol=1e-5)
    path = save_model(flipped, tmp_path / "f.safetensors", info={"size": 64})
    assert load_model(path).flip_test  # the option travels with the file
    onnx = OnnxModule(export_onnx(load_model(path), tmp_path / "f.onnx", size=64))(x)
    assert (torch.sigmoid(onnx["logits"]) - torch.sigmoid(got["logits"])).abs().max() <= 1e-3
    flipped.train()  # (updates BatchNorm statistics: last)
    with torch.no_grad():  # one pass while training (two would share BatchNorm batch statistics)
        assert torch.allclose(flipped(x)["mask_logits"], flipped.forward_once(x)["mask_logits"], atol=1e-6)
    with pytest.raises(ValueError, match="flip_test"):
        create_model("unet", flip_test=True)  # a model without the option says so


def _moved(t: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[y, x] = t[clamp(y + dy), clamp(x + dx)]``: an independent edge-replicating move, by indexing."""
    h, w = t.shape[-2:]
    rows = torch.arange(h).add(dy).clamp(0, h - 1)
    cols = torch.arange(w).add(dx).clamp(0, w - 1)
    return t[..., rows, :][..., :, cols]


def test_shift_test_averages_the_moved_views(model, tmp_path):
    """``shift_test`` (pixels, a test-time option stored with the model): evaluation also runs the image moved
    down and right, its edges mirrored, and averages the answers moved back; with ``flip_test`` four views. It
    travels with the file, and the ONNX export keeps every view."""
    from inharmony.checkpoint import load_model, save_model
    from inharmony.export import OnnxModule, export_onnx

    s = 8
    viewed = create_model("dirl_mobilenetv2_verdict", flip_test=True, shift_test=s)
    viewed.load_state_dict(model.state_dict())
    model.eval(), viewed.eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    x[:, :, :20, :32] += 1.0  # neither mirror-symmetric nor the same when moved
    padded = torch.nn.functional.pad(x, (s, s, s, s), mode="reflect")
    moved = padded[..., :64, :64]  # moved[y, x] = x[y - s, x - s], reflected beyond the edges
    assert torch.equal(moved[..., s:, s:], x[..., :-s, :-s])
    assert viewed.test_views() == [(0, False), (0, True), (s, False), (s, True)]
    with torch.no_grad():
        outs = [model(v) for v in (x, x.flip(-1), moved, moved.flip(-1))]
        got = viewed(x)
    backs = [lambda t: t, lambda t: t.flip(-1), lambda t: _moved(t, s, s), lambda t: _moved(t.flip(-1), s, s)]
    want_mask = sum(back(o["mask_logits"]) for back, o in zip(backs, outs)) / 4
    want_verdict = sum(o["verdict"] for o in outs) / 4
    assert torch.allclose(got["mask_logits"], want_mask, atol=1e-5)
    assert torch.allclose(got["verdict"], want_verdict, atol=1e-5)
    assert torch.allclose(got["logits"], gated_logits(want_mask, want_verdict), atol=1e-4)
    for i, att in enumerate(got["attention"]):
        assert torch.allclose(att, sum(back(o["attention"][i]) for back, o in zip(backs, outs)) / 4, atol=1e-5)
    two = create_model("dirl_mobilenetv2_verdict", flip_test=True)
    two.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert (two.eval()(x)["mask_logits"] - got["mask_logits"]).abs().max() > 1e-4  # the moved views count
    path = save_model(viewed, tmp_path / "s.safetensors", info={"size": 64})
    assert load_model(path).shift_test == s
    onnx = OnnxModule(export_onnx(load_model(path), tmp_path / "s.onnx", size=64))(x)
    assert (torch.sigmoid(onnx["logits"]) - torch.sigmoid(got["logits"])).abs().max() <= 1e-3
    viewed.train()
    with torch.no_grad():  # training sees one pass
        assert torch.allclose(viewed(x)["mask_logits"], viewed.forward_once(x)["mask_logits"], atol=1e-6)
    with pytest.raises(ValueError, match="shift_test"):
        create_model("dirl_mobilenetv2_verdict", shift_test=-1)
    with pytest.raises(ValueError, match="shift_test"):
        create_model("unet", shift_test=4)


def test_scale_test_averages_a_second_scale(model, tmp_path):
    """``scale_test`` (a factor, stored with the model): evaluation also runs every view of the image resized by
    that factor (to a multiple of 32 pixels) and averages its answers resized back; the ONNX export keeps both
    scales, ``scale_use`` keeps only its mask or only its verdict, and an ensemble whose members share one encoder
    refuses it."""
    from torch.nn.functional import interpolate

    from inharmony.checkpoint import load_model, save_model
    from inharmony.export import OnnxModule, export_onnx
    from inharmony.models.ensemble import Ensemble, member_spec

    viewed = create_model("dirl_mobilenetv2_verdict", flip_test=True, scale_test=1.5)
    viewed.load_state_dict(model.state_dict())
    mirrored = create_model("dirl_mobilenetv2_verdict", flip_test=True)
    mirrored.load_state_dict(model.state_dict())
    model.eval(), viewed.eval(), mirrored.eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    x[:, :, :20, :32] += 1.0
    big = interpolate(x, size=(96, 96), mode="bilinear", align_corners=False)  # 64 · 1.5 = 96, a multiple of 32

    def back(t):
        return interpolate(t, size=(64, 64), mode="bilinear", align_corners=False)

    with torch.no_grad():
        here, there, got = mirrored(x), mirrored(big), viewed(x)
    want_mask = (here["mask_logits"] + back(there["mask_logits"])) / 2
    want_verdict = (here["verdict"] + there["verdict"]) / 2
    assert torch.allclose(got["mask_logits"], want_mask, atol=1e-5)
    assert torch.allclose(got["verdict"], want_verdict, atol=1e-5)
    assert torch.allclose(got["logits"], gated_logits(want_mask, want_verdict), atol=1e-4)
    for i, att in enumerate(got["attention"]):
        assert torch.allclose(att, (here["attention"][i] + back(there["attention"][i])) / 2, atol=1e-5)
    assert (got["mask_logits"] - here["mask_logits"]).abs().max() > 1e-4  # the second scale counts
    path = save_model(viewed, tmp_path / "scaled.safetensors", info={"size": 64})
    assert load_model(path).scale_test == 1.5
    onnx = OnnxModule(export_onnx(load_model(path), tmp_path / "scaled.onnx", size=64))(x)
    assert (torch.sigmoid(onnx["logits"]) - torch.sigmoid(got["logits"])).abs().max() <= 1e-3
    viewed.train()
    with torch.no_grad():  # training sees one pass at the input's scale
        assert torch.allclose(viewed(x)["mask_logits"], viewed.forward_once(x)["mask_logits"], atol=1e-6)
    for use, mask, verdict in (("mask", want_mask, here["verdict"]), ("verdict", here["mask_logits"], want_verdict)):
        part = create_model("dirl_mobilenetv2_verdict", flip_test=True, scale_test=1.5, scale_use=use)
        part.load_state_dict(model.state_dict())
        with torch.no_grad():
            got = part.eval()(x)
        assert torch.allclose(got["mask_logits"], mask, atol=1e-5)
        assert torch.allclose(got["verdict"], verdict, atol=1e-5)
        assert torch.allclose(got["logits"], gated_logits(mask, verdict), atol=1e-4)
        assert load_model(save_model(part, tmp_path / f"{use}.safetensors", info={"size": 64})).scale_use == use
    with pytest.raises(ValueError, match="scale_use"):
        create_model("dirl_mobilenetv2_verdict", scale_test=1.5, scale_use="pixels")
    with pytest.raises(ValueError, match="scale_use"):
        create_model("dirl_mobilenetv2", scale_test=1.5, scale_use="mask")  # no verdict to keep apart
    three = create_model("dirl_mobilenetv2_verdict", flip_test=True, scale_test=[1.5, 0.5])
    three.load_state_dict(model.state_dict())
    small = interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    with torch.no_grad():
        got, there_too = three.eval()(x), mirrored(small)
    want = (here["mask_logits"] + back(there["mask_logits"]) + back(there_too["mask_logits"])) / 3
    assert torch.allclose(got["mask_logits"], want, atol=1e-5)
    assert torch.allclose(got["verdict"], (here["verdict"] + there["verdict"] + there_too["verdict"]) / 3, atol=1e-5)
    assert load_model(save_model(three, tmp_path / "three.safetensors", info={"size": 64})).test_scales == (1.5, 0.5)
    for bad in (1.0, -0.5, 8.0, [1.5, 1.0]):
        with pytest.raises(ValueError, match="scale_test"):
            create_model("dirl_mobilenetv2_verdict", scale_test=bad)
    with pytest.raises(ValueError, match="scale_test"):
        Ensemble([member_spec(viewed), member_spec(viewed)], shared_encoder=True)
