"""The self-supervised colour-consistency embedding: its patch pairs, layers, model and training command."""

import json

import pytest
import torch

from fakes import make_photos
from inharmony.checkpoint import load_model
from inharmony.cli.main import main
from inharmony.data.patch_pairs import PatchPairs
from inharmony.data.synth.photos import index_photos
from inharmony.layers.consistency import (
    PairHead,
    PatchEmbedder,
    inconsistency_map,
    majority_level,
    patch_embeddings,
    standing_out,
)
from inharmony.models import create_model


@pytest.fixture(scope="module")
def photo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    make_photos(root / "images" / "train", n=4, size=(120, 96), noise=4.0, seed=300)
    make_photos(root / "images" / "test", n=3, size=(120, 96), noise=4.0, seed=200)
    return root


@pytest.fixture(scope="module")
def photos(photo_root):
    return index_photos(photo_root)[0]


def test_pairs_are_seeded_and_labelled_by_kind(photos):
    pairs = PatchPairs(photos, length=40, seed=3)
    first, again = pairs[7], pairs[7]
    assert torch.equal(first["a"], again["a"]) and torch.equal(first["b"], again["b"])
    assert first["a"].shape == (3, 32, 32) and first["a"].dtype == torch.float32
    items = [pairs[i] for i in range(40)]
    assert {it["kind"] for it in items} >= {"same", "recolour"}
    assert all(float(it["label"]) == float(it["kind"] != "same") for it in items)
    pairs.set_epoch(1)
    assert not torch.equal(pairs[7]["a"], first["a"])  # another epoch, other pairs


def test_pair_kinds_follow_their_shares(photos):
    assert {PatchPairs(photos, 10, shares=(1, 0, 0))[i]["kind"] for i in range(10)} == {"same"}
    assert {PatchPairs(photos, 10, shares=(0, 0, 1))[i]["kind"] for i in range(10)} == {"other"}
    # a recolouring that cannot reach the visible minimum becomes another photo's patch, never a "same" pair
    kinds = [PatchPairs(photos, 10, shares=(0, 1, 0), min_delta_e=500.0)[i]["kind"] for i in range(10)]
    assert set(kinds) == {"other"}


def test_pairs_refuse_bad_settings(photos):
    with pytest.raises(ValueError, match="at least 2 photos"):
        PatchPairs(photos[:1], 4)
    with pytest.raises(ValueError, match="shares"):
        PatchPairs(photos, 4, shares=(1, -1, 0))


def test_pair_head_is_symmetric_and_embeddings_cover_the_image():
    torch.manual_seed(0)
    embedder, head = PatchEmbedder(dim=16, width=8).eval(), PairHead(dim=16, hidden=8)
    a, b = torch.randn(5, 16), torch.randn(5, 16)
    assert torch.allclose(head(a, b), head(b, a))
    x = torch.randn(2, 3, 64, 96)
    assert patch_embeddings(embedder, x).shape == (2, 16, 8, 12)
    assert embedder.embed(torch.randn(3, 3, 32, 32)).shape == (3, 16)


def test_inconsistency_map_marks_the_minority():
    head = PairHead(dim=2, hidden=1)
    with torch.no_grad():  # logit = 20·(|a − b| summed) − 5: "different" when the vectors differ
        head.mlp[0].weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
        head.mlp[0].bias.zero_()
        head.mlp[2].weight.fill_(20.0)
        head.mlp[2].bias.fill_(-5.0)
    emb = torch.zeros(1, 2, 12, 12)
    emb[:, :, 2:6, 3:8] = 1.0  # a 20-cell region processed otherwise
    score = inconsistency_map(emb, head, references=36)[0, 0]
    inside, outside = score[2:6, 3:8], torch.cat([score[:2].flatten(), score[6:].flatten()])
    assert inside.min() > 0.8 and outside.max() < 0.2
    flat = inconsistency_map(torch.zeros(1, 2, 12, 12), head, references=36)
    assert flat.max() < 0.01  # an image processed one way only: nothing stands out


def test_smoothing_keeps_colour_and_removes_grain():
    torch.manual_seed(0)
    embedder = PatchEmbedder(dim=8, width=8, smooth=5).eval()
    flat = torch.zeros(1, 3, 32, 32)
    grain = flat + 0.3 * torch.randn(1, 3, 32, 32)
    assert (embedder(flat) - embedder(grain)).abs().max() < (embedder(flat) - embedder(flat + 0.5)).abs().max()
    with pytest.raises(ValueError, match="odd"):
        PatchEmbedder(smooth=4)
    assert create_model("consistency_patches", smooth=5).embedder.smooth == 5


def test_relative_map_marks_what_stands_out_and_keeps_the_order():
    unsure = torch.full((1, 1, 8, 8), 0.5) + 0.01 * torch.rand(1, 1, 8, 8)  # every pair a coin toss
    assert standing_out(unsure, majority_level(unsure)).max() < 0.05
    composite = torch.full((1, 1, 8, 8), 0.3)
    composite[..., :3, :3] = 0.9
    out = standing_out(composite, majority_level(composite))
    assert out[..., :3, :3].min() > 0.8 and out[..., 4:, 4:].max() < 0.05
    raw = torch.rand(1, 1, 8, 8)
    assert torch.equal(majority_level(raw), raw.flatten(1).median(dim=1).values)
    odd = torch.rand(2, 1, 3, 5)
    assert torch.equal(majority_level(odd), odd.flatten(1).median(dim=1).values)
    rel = standing_out(raw, majority_level(raw))
    assert torch.equal(raw.flatten().argsort(), rel.flatten().argsort())  # same order of pixels: same AP


def test_model_outputs_a_map_like_dirl_and_round_trips(tmp_path):
    from inharmony.checkpoint import save_model

    model = create_model("consistency_patches").eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out["logits"].shape == (2, 1, 64, 64) and out["attention"] == []
    assert torch.isfinite(out["logits"]).all()
    path = save_model(model, tmp_path / "c.safetensors", info={"size": 64})
    again = load_model(path)
    with torch.no_grad():
        x = torch.randn(1, 3, 64, 64)
        assert torch.allclose(model(x)["logits"], again(x)["logits"])


def test_consistency_command_trains_validates_and_continues(photo_root, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["consistency", "--photos", str(photo_root), "--out", str(out), "--minutes", "5"]
    assert main([*args, "--max-steps", "4", "--val-every", "2", "--batch-size", "8", "--workers", "0"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["step"] == 4 and record["samples"] == 32
    assert 0.0 <= record["val_auroc"] <= 1.0 and 0.0 <= record["val_acc"] <= 1.0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4]
    model = load_model(out / "last.safetensors")
    assert model.model_name == "consistency_patches" and model.model_info["samples"] == 32
    assert (out / "best.safetensors").is_file()
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["step_000002.safetensors", "step_000004.safetensors"]
    more = ["--init", str(out / "last.safetensors"), "--max-steps", "2", "--batch-size", "8", "--workers", "0"]
    assert main([*args, *more]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["samples"] == 48  # sessions add up


def test_consistency_command_refuses_another_model(photo_root, tmp_path, capsys):
    from fakes import tiny_model_file

    other = tiny_model_file(tmp_path)
    args = ["consistency", "--photos", str(photo_root), "--out", str(tmp_path / "r"), "--minutes", "1"]
    assert main([*args, "--init", str(other), "--workers", "0"]) == 2
    assert "expected 'consistency_patches'" in capsys.readouterr().err
