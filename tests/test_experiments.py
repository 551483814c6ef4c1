"""The paper's experiments as commands: comparison table + qualitative figure, attention visualisation."""

import json

import pytest
import torch
import yaml
from PIL import Image

from fakes import make_synth_dataset
from inharmony.checkpoint import save_model
from inharmony.cli.main import main
from inharmony.models import create_model


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    return make_synth_dataset(tmp_path_factory.mktemp("cmp"), n=12, seed=1, photos=5, size=(72, 64))


def compare_args(out, root, *models):
    return [
        "compare",
        "--models",
        *models,
        "--root",
        str(root),
        "--steps",
        "2",
        "--size",
        "64",
        "--batch-size",
        "2",
        "--figure-images",
        "2",
        "--out",
        str(out),
        "--set",
        "train.workers=0",
        "--set",
        "train.device=cpu",
    ]


def test_compare_per_model_overrides_reuse_and_fail_fast(synth_root, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(compare_args(out, synth_root, "dirl_mobilenetv2", "no_such_model")) != 0
    assert "unknown model 'no_such_model'" in capsys.readouterr().err
    assert not (out / "runs").exists()  # nothing trained before the bad name was found
    da = "dirl_mobilenetv2_no_bfi@loss.lambda_att=0"
    assert main(compare_args(out, synth_root, da)) == 0
    saved = yaml.safe_load((out / "runs" / "dirl_mobilenetv2_no_bfi__loss.lambda_att-0" / "config.yaml").read_text())
    assert saved["loss"]["lambda_att"] == 0 and saved["model"]["name"] == "dirl_mobilenetv2_no_bfi"
    first = json.loads((out / "comparison.json").read_text())["models"][0]
    assert first["model"] == da
    # a second run under the same budget reuses the finished model and trains only the new one
    assert main(compare_args(out, synth_root, da, "mantranet_lite")) == 0
    rows = json.loads((out / "comparison.json").read_text())["models"]
    assert [r["model"] for r in rows] == [da, "mantranet_lite"] and rows[0] == first
    assert "reusing" in capsys.readouterr().err or rows[0]["train_s"] == first["train_s"]
    # another seed is another budget: nothing reused, the seed recorded and used
    assert main([*compare_args(out, synth_root, da), "--seed", "1"]) == 0
    assert "reusing" not in capsys.readouterr().err
    assert json.loads((out / "comparison.json").read_text())["seed"] == 1
    saved = yaml.safe_load((out / "runs" / "dirl_mobilenetv2_no_bfi__loss.lambda_att-0" / "config.yaml").read_text())
    assert saved["train"]["seed"] == 1


def test_compare_writes_table_and_figure(synth_root, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(compare_args(out, synth_root, "dirl_mobilenetv2", "mantranet_lite"))
    assert code == 0
    table = capsys.readouterr().out
    assert "| dirl_mobilenetv2 |" in table and "| mantranet_lite |" in table
    result = json.loads((out / "comparison.json").read_text())
    assert [r["model"] for r in result["models"]] == ["dirl_mobilenetv2", "mantranet_lite"]
    for row in result["models"]:
        assert row["params_M"] > 0 and row["GFLOPs"] > 0 and 0 <= row["results"]["overall"]["AP"] <= 100
    fig = Image.open(out / "qualitative.png")
    assert fig.size[0] > 4 * 160 and fig.size[1] > 2 * 160  # Image | GT | 2 models, 2 rows
    assert (out / "models" / "mantranet_lite.safetensors").is_file()


def test_visualize_attention(tmp_path, capsys):
    torch.manual_seed(0)
    path = save_model(create_model("dirl_mobilenetv2"), tmp_path / "m.safetensors", info={"size": 64})
    Image.new("RGB", (50, 40), "orange").save(tmp_path / "in.png")
    assert (
        main(
            ["visualize-attention", str(tmp_path / "in.png"), "--model", str(path), "--out", str(tmp_path / "att.png")]
        )
        == 0
    )
    assert Image.open(tmp_path / "att.png").size[0] >= 7 * 200
    no_att = save_model(create_model("unet"), tmp_path / "u.safetensors", info={"size": 64})
    assert (
        main(
            ["visualize-attention", str(tmp_path / "in.png"), "--model", str(no_att), "--out", str(tmp_path / "x.png")]
        )
        == 2
    )
    assert "no attention maps" in capsys.readouterr().err
