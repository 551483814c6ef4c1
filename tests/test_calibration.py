"""Calibrating the image score: Platt scaling, one threshold for the verdict and the mask, stored in model files."""

import numpy as np
import pytest
import torch
from PIL import Image

from fakes import tiny_model_file
from inharmony.checkpoint import read_model_file
from inharmony.cli.main import main
from inharmony.engine.calibrate import fit_on_sets
from inharmony.engine.report import EvalSet, evaluate_sets, summarise
from inharmony.inference import Predictor
from inharmony.inference.predictor import Prediction
from inharmony.verdict import Calibration, fit_calibration
from test_report import RedDetector, red_items


def test_platt_fit_recovers_the_map_that_made_the_labels():
    """Labels drawn with P(composite) = sigmoid(2·logit(raw) − 1): the fit finds a ≈ 2, b ≈ −1."""
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.02, 0.98, 20000)
    truth = Calibration(2.0, -1.0)
    labels = rng.uniform(size=raw.size) < np.array([truth(x) for x in raw])
    fitted = fit_calibration(raw[labels], raw[~labels], fit_on="toy")
    assert fitted.a == pytest.approx(2.0, abs=0.15) and fitted.fit_on == "toy"
    # both classes weigh the same in the fit, so the intercept is the one for an even mix
    assert fitted.b == pytest.approx(-1.0 + np.log((~labels).sum() / labels.sum()), abs=0.15)
    quarter = fit_calibration(raw[labels], raw[~labels], prior=0.25)  # one composite in four: log-odds − log 3
    assert quarter.a == pytest.approx(fitted.a) and quarter.b == pytest.approx(fitted.b - np.log(3))
    with pytest.raises(ValueError, match="prior"):
        fit_calibration(raw[labels], raw[~labels], prior=1.0)


def test_calibration_is_monotone_and_its_threshold_inverts_it():
    cal = Calibration(0.7, 1.2)
    raws = np.linspace(0.01, 0.99, 50)
    out = [cal(x) for x in raws]
    assert all(b > a for a, b in zip(out, out[1:]))  # ranking (AUROC, AP) unchanged
    for t in (0.1, 0.5, 0.93):
        assert cal(cal.raw_threshold(t)) == pytest.approx(t)
    assert cal.raw_threshold(0.0) == 0.0 and cal.raw_threshold(1.0) == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cal.raw_threshold(1.5)
    assert Calibration.from_info({"calibration": cal.to_info()}) == cal
    assert Calibration.from_info({}) is None and Calibration.from_info(None) is None
    with pytest.raises(ValueError, match="slope"):
        Calibration(-1.0, 0.0)
    with pytest.raises(ValueError, match="Platt"):
        Calibration.from_info({"calibration": {"method": "isotonic"}})


def test_a_score_that_ranks_wrongly_or_too_few_images_is_refused():
    with pytest.raises(ValueError, match="does not rank composites above"):
        fit_calibration([0.1, 0.2, 0.15], [0.8, 0.9, 0.7])
    with pytest.raises(ValueError, match="2 composites and 2 authentic"):
        fit_calibration([0.9], [0.1, 0.2])


def test_a_cautious_model_calibrated_finds_the_region_and_its_mask_agrees_with_the_verdict():
    low = np.full((10, 10), 0.05, np.float32)
    low[2:4, 3:7] = 0.3  # the region, marked at 0.3: below the raw threshold 0.5
    plain = Prediction(low, (20, 20))
    assert not plain.verdict() and plain.mask().max() == 0
    cal = Calibration(2.0, -2.0 * np.log(0.2 / 0.8))  # a · logit(0.2) + b = 0: raw 0.2 ↔ calibrated 0.5
    calibrated = Prediction(low, (20, 20), calibration=cal)
    assert calibrated.pixel_threshold() == pytest.approx(0.2) and calibrated.raw_score == plain.score
    assert calibrated.score == pytest.approx(cal(0.3)) and calibrated.score > 0.5 and calibrated.verdict()
    s = calibrated.summary()
    assert s["inharmonious"] and s["calibrated"] and s["bbox"] == [6, 4, 14, 8]
    assert s["region_fraction"] == pytest.approx(0.08) and (calibrated.mask() > 0).mean() > 0.05
    assert not calibrated.verdict(0.9) and calibrated.mask(0.9).max() == 0  # a stricter threshold: empty


def test_fit_on_sets_through_the_evaluation_path():
    calibration, report = fit_on_sets(RedDetector(), [EvalSet("red", red_items(6))], batch_size=4)
    assert report["n_composites"] == 6 and report["n_authentic"] == 6 and report["auroc"] == 1.0
    assert calibration.a > 0 and 0.01 < report["raw_threshold"] < 0.99
    assert report["detected"]["calibrated"] == 1.0 and report["false_alarm"]["calibrated"] == 0.0
    assert report["brier"]["calibrated"] <= report["brier"]["raw"]


@pytest.fixture()
def train_manifest(tmp_path):
    """Four composites with twins, three of them in the train split."""
    lines = ["composite,mask,real,split"]
    rng = np.random.default_rng(3)
    for i in range(4):
        real = rng.integers(40, 200, (40, 48, 3), dtype=np.uint8)
        comp, mask = real.copy(), np.zeros((40, 48), np.uint8)
        mask[8:24, 10:30] = 255
        comp[mask > 0] //= 2
        for folder, arr in (("c", comp), ("m", mask), ("r", real)):
            (tmp_path / folder).mkdir(exist_ok=True)
            Image.fromarray(arr).save(tmp_path / folder / f"{i}.png")
        lines.append(f"c/{i}.png,m/{i}.png,r/{i}.png,{'test' if i == 3 else 'train'}")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "manifest.csv"


def test_calibrate_command_writes_a_copy_that_every_interface_reads(train_manifest, tmp_path, monkeypatch, capsys):
    """The command scores the train rows (3 composites, 3 twins), fits, and writes the model file again with the
    calibration in its info and the same tensors; the predictor, the evaluation and the ONNX export then use it.
    The untrained model's own ranking is arbitrary, so its raw scores are replaced by scripted ones here (the fit
    on a real ranking is tested above)."""
    import inharmony.engine.calibrate as calibrate_module

    source = tiny_model_file(tmp_path / "m", 32, scores={"synth": {"AP": 1.0}})
    seen_sets = []

    def scripted(predictor, label, sets, batch_size, progress):
        seen_sets.extend(sets)
        rows = evaluate_sets(predictor, label, sets, batch_size)
        for r in rows:
            r["raw_score"] = (0.3 if not r["authentic"] else 0.1) + 0.01 * len(r["name"]) % 0.05
        return rows

    monkeypatch.setattr(calibrate_module, "evaluate_sets", scripted)
    out = tmp_path / "calibrated.safetensors"
    assert main(["calibrate", "--model", str(source), "--data", f"s={train_manifest}", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fitted on 3 composites and 3 authentic photos" in printed and "| false alarm |" in printed
    assert len([it for it in seen_sets[0].items if not it.authentic]) == 3  # the train rows only
    meta, state = read_model_file(out)
    _, before = read_model_file(source)
    assert all(torch.equal(state[k], before[k]) and state[k].dtype == before[k].dtype for k in before)
    entry = meta["info"]["calibration"]
    assert entry["method"] == "platt" and entry["n_composites"] == 3 and entry["prior"] == 0.5
    assert entry["fit_on"] == f"s={train_manifest} (train rows)"
    assert "scores" not in meta["info"] and meta["info"]["size"] == 32  # threshold-dependent figures dropped
    predictor = Predictor.from_checkpoint(out, device="cpu")
    assert predictor.calibration == Calibration.from_info(meta["info"])
    assert 0.1 < predictor.calibration.raw_threshold(0.5) < 0.3
    rows = evaluate_sets(predictor, "m", [EvalSet("red", red_items(2))])
    assert all(r["score"] == pytest.approx(predictor.calibration(r["raw_score"])) for r in rows)
    assert summarise(rows)[0]["detected"] == np.mean([r["score"] > 0.5 for r in rows if not r["authentic"]])
    onnx = tmp_path / "calibrated.onnx"
    assert main(["export", "--model", str(out), "--out", str(onnx)]) == 0
    assert Predictor.from_checkpoint(onnx).calibration == predictor.calibration


def test_calibrate_refuses_what_it_cannot_do(train_manifest, tmp_path, capsys):
    source = tiny_model_file(tmp_path / "m", 32)
    args = ["calibrate", "--model", str(source), "--data", f"s={train_manifest}"]
    assert main([*args, "--out", str(tmp_path / "x.onnx")]) == 2
    assert "reads and writes .safetensors" in capsys.readouterr().err
    assert main([*args, "--split", "nope", "--out", str(tmp_path / "y.safetensors")]) == 2
    assert "no rows in split 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "y.safetensors").exists()


def test_models_command_shows_a_shipped_calibration(tmp_path, monkeypatch, capsys):
    import inharmony.inference.predictor as predictor_module
    from inharmony.checkpoint import rewrite_info

    cal = Calibration(0.9, -0.2, "calib")
    path = rewrite_info(tiny_model_file(tmp_path, 32), tmp_path / "c.safetensors", {"calibration": cal.to_info()})
    monkeypatch.setattr(predictor_module, "shipped_models", lambda backend="torch": {"mine": path})
    assert main(["models"]) == 0
    assert "calibrated score: sigmoid(0.9000 · logit(raw) − 0.2000), for a share 0.5" in capsys.readouterr().out
