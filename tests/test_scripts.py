"""The comparison scripts: arms.sh runs each arm with its own settings from the same start, then one evaluation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _benchmark(name: str):
    """``benchmarks/NAME.py`` imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_pools_one_channel_square(pool) -> None:
    """``pool(maps, region)`` → [inside(2), outside(2), in − out(2), in − ring(2)] for two 16² maps whose channel 0
    is 1 inside a square only, under the 32² region that square covers."""
    import torch

    maps = [torch.zeros(1, 2, 16, 16)]
    maps[0][:, 0, 4:10, 4:10] = 1.0
    region = torch.zeros(1, 1, 32, 32)
    region[..., 8:20, 8:20] = 1.0
    pooled = np.asarray(pool(maps, region))
    assert pooled.shape == (8,)
    assert np.allclose(pooled[[0, 2, 4, 6]], [1.0, 0.0, 1.0, 1.0], atol=1e-5)
    assert np.allclose(pooled[[1, 3, 5, 7]], 0.0, atol=1e-6)


def test_arms_script_trains_each_arm_with_its_settings_then_evaluates_all(tmp_path):
    log = tmp_path / "calls.txt"
    fake = tmp_path / "inharmony"  # records its arguments; "train" leaves a best model where arms.sh looks
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        'if [ "$1" = train ]; then\n'
        "  while [ $# -gt 0 ]; do case $1 in --out) out=$2;; --name) name=$2;; esac; shift; done\n"
        '  mkdir -p "$out/$name/version_0" && touch "$out/$name/version_0/best.safetensors"\n'
        "fi\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "INHARMONY": str(fake), "PHOTOS": str(tmp_path / "photos")}
    out = tmp_path / "arms"
    cmd = ["bash", "scripts/arms.sh", "configs/paste_arms.yaml", "start.safetensors", str(out)]
    cmd += ["quarter:data.kinds.paste=0.3333", "half:data.kinds.paste=1.0,train.seed=3", "--", "--device", "cpu"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 3
    assert calls[0].startswith("train --config configs/paste_arms.yaml") and "--name quarter" in calls[0]
    assert "--set model.init=start.safetensors --set data.kinds.paste=0.3333 --device cpu" in calls[0]
    assert "--set data.kinds.paste=1.0 --set train.seed=3 --device cpu" in calls[1]
    assert calls[2].startswith("evaluate --model start.safetensors")
    assert f"--model {out}/quarter/version_0/best.safetensors --model {out}/half/version_0/best.safetensors" in calls[2]
    assert "--data swap=swap:" in calls[2] and calls[2].endswith("--no-groups")
    assert sorted(x.split(":")[0] for x in (out / "minutes.txt").read_text().splitlines()) == ["half", "quarter"]
    subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)  # finished arms: not rerun
    assert sum(c.startswith("train") for c in log.read_text().splitlines()) == 2
    bad = subprocess.run(cmd[:5], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "ARM:KEY=VALUE" in bad.stderr
    outline = ["bash", "scripts/outline_arms.sh", "start.safetensors", str(tmp_path / "outline"), "--device", "cpu"]
    subprocess.run(outline, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    calls = log.read_text().splitlines()[-3:]
    assert "--name exact --set model.init=start.safetensors --set data.outline_share=0.0 --device cpu" in calls[0]
    assert "--name outlined" in calls[1] and "data.outline_share=0.5" in calls[1] and calls[2].startswith("evaluate")


def _per_image(path: Path, model: str, scores: dict) -> Path:
    lines = ["model,set,group,name,authentic,score"]
    lines += [f"{model},{s},overall,{n},{auth},{v}" for (s, n), (v, auth) in scores.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_score_fusion_reports_each_weight_and_refuses_ambiguous_files(tmp_path):
    # A separates the probe perfectly, B not at all: the AUROC falls from 1 as B's share grows
    a = {("swap", f"c{i}"): (0.9, False) for i in range(4)} | {
        ("swap", f"r{i}"): (0.1 + 0.01 * i, True) for i in range(4)
    }
    b = {("swap", f"c{i}"): (0.5, False) for i in range(4)} | {("swap", f"r{i}"): (0.5, True) for i in range(4)}
    fa, fb = _per_image(tmp_path / "a.csv", "A", a), _per_image(tmp_path / "b.csv", "B", b)
    out = tmp_path / "fusion.md"
    cmd = [
        sys.executable,
        "benchmarks/score_fusion.py",
        "--a",
        str(fa),
        "--b",
        str(fb),
        "--weights",
        "0,1",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 0.00") or line.startswith("| 1.00")]
    assert rows[0] == "| 0.00 | 1.000 | 1.000 |" and rows[1] == "| 1.00 | 0.500 | 0.500 |"
    both = tmp_path / "both.csv"
    both.write_text(fa.read_text() + "".join(fb.read_text().splitlines(True)[1:]))
    bad = subprocess.run([*cmd[:3], str(both), *cmd[4:]], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "several models" in bad.stderr


def test_twin_gap_is_one_half_for_a_model_blind_to_the_change(tmp_path):
    import csv
    import importlib.util

    import torch

    from fakes import make_photos, tiny_model_file
    from inharmony.cli.main import main

    spec = importlib.util.spec_from_file_location("twin_gap", ROOT / "benchmarks" / "twin_gap.py")
    twin_gap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin_gap)
    root = tmp_path / "ds"
    assert (
        main(["data", "synth", "--photos", str(make_photos(tmp_path / "p", n=5)), "--out", str(root), "--n", "6"]) == 0
    )
    rows = [r for r in csv.DictReader(open(root / "manifest.csv")) if r["kind"] != "paste"]

    class Blind(torch.nn.Module):  # the same map for every image: it cannot tell a composite from its twin
        def forward(self, x):
            return {"mask_logits": torch.zeros(1, 1, *x.shape[-2:]), "verdict": torch.zeros(1)}

    class Sees(torch.nn.Module):  # logits grow with the colour: composite and twin differ where the change is
        def forward(self, x):
            return {"logits": x.sum(1, keepdim=True)}

    blind = twin_gap.measure(Blind(), rows, root, 32)
    assert blind["all"] == {"pairs": len(rows), "pixel rank": 0.5, "logit gap": 0.0, "verdict rank": 0.5}
    sees = twin_gap.measure(Sees(), rows, root, 32)["all"]
    assert sees["pixel rank"] != 0.5 and sees["logit gap"] != 0.0
    out = tmp_path / "gap.json"
    model = tiny_model_file(tmp_path, name="dirl_mobilenetv2_verdict")
    cmd = [sys.executable, "benchmarks/twin_gap.py", "--model", str(model), "--data", str(root), "--split", "all"]
    done = subprocess.run([*cmd, "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '"pixel rank"' in out.read_text() and str(model) in out.read_text()


def test_calibration_benchmark_measures_reliability_and_operating_points(tmp_path):
    """Scores that are exact probabilities (share of composites in each bin = its score) give ECE ≈ 0; a raw score
    that is all 0.5 has every image in one bin, detected and false alarms moving together with the threshold."""
    rng = np.random.default_rng(0)
    lines = ["model,set,group,name,authentic,score,raw_score,error"]
    for i in range(4000):
        p = rng.uniform(0.05, 0.95)
        composite = rng.uniform() < p  # P(composite | score) = score, before the class weighting
        lines.append(f"M,{'swap' if i % 2 else 'synth'},g,n{i},{not composite},{p},0.5,")
    rows = tmp_path / "per_image.csv"
    rows.write_text("\n".join(lines) + "\n")
    out = tmp_path / "cal.json"
    cmd = [sys.executable, "benchmarks/calibration.py", "--rows", str(rows), "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["score"]["reliability"]["ece"] < 0.05 and result["raw_score"]["reliability"]["ece"] > 0.0
    assert len(result["raw_score"]["reliability"]["bins"]) == 1
    points = {p["threshold"]: p for p in result["score"]["operating_points"]}
    assert points[0.3]["detected"] > points[0.7]["detected"] and points[0.3]["false_alarm"] > points[0.7]["false_alarm"]
    assert set(points[0.5]["per_set"]) == {"swap", "synth"} and "| 0.5 |" in done.stdout
    bad = subprocess.run([*cmd[:4], "--model", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "choose one of ['M']" in bad.stderr


def test_score_parts_measures_each_part_of_the_image_score(tmp_path):
    import importlib.util

    from fakes import make_photos, tiny_model_file
    from inharmony.cli.main import main

    spec = importlib.util.spec_from_file_location("score_parts", ROOT / "benchmarks" / "score_parts.py")
    score_parts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score_parts)
    parts = {"score": 0.9, "verdict": 0.2, "candidate": 0.5, "candidate area": 0.1}
    rows = [(True, {**parts, "score": 0.9}), (False, {**parts, "score": 0.1, "verdict": 0.8})]
    result = score_parts.table({"a": rows, "b": [rows[0]]}, negatives=[rows[1], (True, parts)])
    assert result["a"] == {
        "composites": 1,
        "authentic": 1,
        "score": 1.0,
        "verdict": 0.0,
        "candidate": 0.5,
        "candidate area": 0.5,
    }
    assert result["b"]["authentic"] == 1 and result["b"]["score"] == 1.0  # scored against --negatives

    root = tmp_path / "ds"
    assert (
        main(["data", "synth", "--photos", str(make_photos(tmp_path / "p", n=5)), "--out", str(root), "--n", "6"]) == 0
    )
    out = tmp_path / "parts.json"
    model = tiny_model_file(tmp_path, name="dirl_mobilenetv2_verdict")
    cmd = [sys.executable, "benchmarks/score_parts.py", "--model", str(model), "--data", f"s={root}/manifest.csv"]
    done = subprocess.run([*cmd, "--split", "all", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())["auroc"]["s"]
    assert figures["composites"] == 6 and figures["authentic"] >= 3
    assert all(0.0 <= figures[p] <= 1.0 for p in score_parts.PARTS)
    plain = tiny_model_file(tmp_path / "plain", name="dirl_mobilenetv2")
    done = subprocess.run([*cmd[:3], str(plain), *cmd[4:], "--split", "all"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "no verdict head" in done.stderr


def test_verdict_cues_pools_deep_features_and_scores_every_region(tmp_path):
    from fakes import make_photos, tiny_model_file
    from inharmony.cli.main import main

    cues = _benchmark("verdict_cues")
    _assert_pools_one_channel_square(lambda maps, region: cues.deep_cues(maps, region, ring=3)[0].numpy())
    rows = [{"photo": "a.jpg"}, {"photo": "b.jpg"}, {"photo": "a.jpg"}, {}, {}]
    assert cues.photo_groups(rows) == [0, 1, 0, 2, 3]  # a photo's pairs in one fold, rows without a photo alone

    root = tmp_path / "ds"
    photos = make_photos(tmp_path / "p", n=6, noise=4.0)
    assert main(["data", "synth", "--photos", str(photos), "--out", str(root), "--n", "6"]) == 0
    model = tiny_model_file(tmp_path, name="dirl_mobilenetv2_verdict")
    out = tmp_path / "cues.json"
    cmd = [sys.executable, "benchmarks/verdict_cues.py", "--model", str(model), "--data", str(root), "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["pairs"] == 6
    for region in ("cues on candidate", "cues on true mask", "deep on candidate", "deep on true mask"):
        for kind in ("linear", "boosted"):
            assert 0.0 <= result[f"{region}, {kind}"] <= 1.0


def test_candidate_script_calibrates_measures_and_pairs_with_the_default(tmp_path):
    from fakes import make_photos

    log = tmp_path / "calls.txt"
    rows = ["model,set,group,name,authentic,ap,score,raw_score"]
    for i in range(6):  # the candidate finds every composite better and scores them higher than the default
        rows.append(f"M,swap,swap,swap/c{i},False,{{ap}},{{score}},{{score}}")
        rows.append(f"M,heldout,heldout,heldout/a{i},True,,{0.1 + 0.05 * i},{0.1 + 0.05 * i}")
    template = "\n".join(rows) + "\n"
    (tmp_path / "default.csv").write_text(template.replace("{ap}", "0.3").replace("{score}", "0.2"))
    (tmp_path / "candidate.csv").write_text(template.replace("{ap}", "0.7").replace("{score}", "0.9"))
    fake = tmp_path / "inharmony"  # records its arguments; "evaluate" writes the prepared per-image figures
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        'inputs=(); for a in "${@:2}"; do case $a in --*) break;; *) inputs+=("$a");; esac; done\n'
        "cmd=$1; while [ $# -gt 0 ]; do case $1 in --out) out=$2;; --model) model=$2;; esac; shift; done\n"
        'if [ "$cmd" = calibrate ]; then touch "$out"; fi\n'
        'if [ "$cmd" = evaluate ]; then mkdir -p "$out"\n'
        f'  if [ "$model" = default ]; then cp {tmp_path}/default.csv "$out/per_image.csv";'
        f' else cp {tmp_path}/candidate.csv "$out/per_image.csv"; fi\n'
        "fi\n"
        # "predict": every photo scores 0.2, but the candidate flags the held-out (test) ones
        'if [ "$cmd" = predict ]; then mkdir -p "$out"; echo file,score > "$out/summary.csv"\n'
        '  find "${inputs[@]}" -name "*.png" | while read -r f; do s=0.2\n'
        '    if [ "$model" != default ] && [[ $f == */test/* ]]; then s=0.9; fi; echo "$f,$s"\n'
        '  done >> "$out/summary.csv"\n'
        "fi\n"
    )
    fake.chmod(0o755)
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"")
    env = {**os.environ, "INHARMONY": str(fake), "PYTHON": sys.executable, "PHOTOS": str(tmp_path / "photos")}
    out, reference = tmp_path / "cand", tmp_path / "reference"
    cmd = ["bash", "scripts/candidate.sh", str(model), str(out), str(reference)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 3
    assert calls[0].startswith("evaluate --model default --data swap=swap:") and f"--out {reference}" in calls[0]
    assert "--data heldout=heldout:" in calls[0] and calls[0].endswith("--no-groups --per-image")
    assert calls[1] == (
        f"calibrate --model {model} --data calib=data/calib_v1/manifest.csv --prior 0.3333 "
        f"--out {out}/model_cal.safetensors"
    )
    assert calls[2].startswith(f"evaluate --model {out}/model_cal.safetensors --data swap=swap:")
    gaps = {g["figure"]: g for g in json.loads((out / "paired.json").read_text())["sets"]["swap"]}
    assert abs(gaps["AP"]["delta"] - 40.0) < 1e-6  # AP is reported in per cent
    matched = json.loads((out / "matched.json").read_text())
    assert matched["gaps_against_first"][str(out / "evaluation")]["swap"]["delta"] > 0
    assert "swap" in (out / "paired.md").read_text()
    # the reference is made once; CALIBRATE=0 measures the file as it is
    subprocess.run(cmd, cwd=ROOT, env={**env, "CALIBRATE": "0"}, capture_output=True, text=True, check=True)
    calls = log.read_text().splitlines()[3:]
    assert len(calls) == 1 and calls[0].startswith(f"evaluate --model {model} ")
    missing = subprocess.run(
        cmd[:2] + [str(tmp_path / "none.safetensors"), str(out)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "none.safetensors" in missing.stderr
    assert not (out / "seen.json").exists()  # no photo folders under PHOTOS: no seen-photo gap
    photos = tmp_path / "photos"  # training photos, and BSDS test photos held out
    make_photos(photos / "imagenet-sample", n=6, noise=4.0)
    make_photos(photos / "bsds500" / "images" / "train", n=4, noise=4.0, seed=200)
    make_photos(photos / "bsds500" / "images" / "test", n=4, noise=4.0, seed=300)
    subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    calls = log.read_text().splitlines()[4:]
    predicts = [c for c in calls if c.startswith("predict")]
    assert predicts[0].startswith(f"predict {photos}/imagenet-sample {photos}/bsds500/images --model default")
    assert predicts[1].endswith(f"--model {out}/model_cal.safetensors --out {out}/photos --save mask")
    seen = json.loads((out / "seen.json").read_text())
    candidate = seen[str(out / "photos" / "summary.csv")]
    assert candidate["flagged_train"] == 0.0 and candidate["flagged_test"] > 50  # the BSDS test photos flagged
    assert candidate["against_first"]["all"]["gap_change"] > 50
    assert "held-out photos flagged" in (out / "seen.md").read_text()
    subprocess.run(cmd, cwd=ROOT, env={**env, "SEEN": "0"}, capture_output=True, text=True, check=True)
    assert not any(c.startswith("predict") for c in log.read_text().splitlines()[4 + len(calls) :])


def test_encoder_probe_pools_per_stage_and_scores_each_encoder(tmp_path):
    import pytest
    import torch
    from PIL import Image

    probe = _benchmark("encoder_probe")
    _assert_pools_one_channel_square(lambda maps, region: probe.pooled(maps, region)[0])
    with pytest.raises(ValueError, match="ARCH=WEIGHTS"):
        probe.build_encoder("mobilenetv2")
    with pytest.raises(ValueError, match="unknown ARCH"):
        probe.build_encoder("vgg=random")
    bad = tmp_path / "bad.pth"
    torch.save({"w": torch.zeros(3)}, bad)
    with pytest.raises(ValueError, match="do not line up"):
        probe.build_encoder(f"efficientnet_lite0={bad}")

    root = tmp_path / "ds"  # 40 in-place pairs of 20 photos (a brightened square) and a pasted pair it skips
    root.mkdir()
    rng = np.random.default_rng(0)
    rows = ["composite,real,mask,photo,split,kind"]
    for i in range(41):
        real = rng.integers(0, 200, (48, 48, 3), dtype=np.uint8)
        mask = np.zeros((48, 48), np.uint8)
        mask[10:30, 12:34] = 255
        comp = real.copy()
        comp[mask > 0] += 40
        for name, image in ((f"c{i}.png", comp), (f"r{i}.png", real), (f"m{i}.png", mask)):
            Image.fromarray(image).save(root / name)
        rows.append(f"c{i}.png,r{i}.png,m{i}.png,photo{i // 2},test,{'paste' if i == 40 else 'transfer'}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "probe.json"
    cmd = [sys.executable, "benchmarks/encoder_probe.py", "--data", str(root), "--split", "all", "--out", str(out)]
    cmd += ["--encoder", "mobilenetv2=random", "--encoder", "efficientnet_lite0=random", "--size", "64"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["pairs"] == 40
    assert [(p["encoder"], p["size"]) for p in result["probes"]] == [
        ("mobilenetv2=random", 64),
        ("efficientnet_lite0=random", 64),
    ]
    for figures in result["probes"]:
        assert {f"stage {s}" for s in range(1, 6)} | {"all stages"} <= set(figures)
        assert all(0.0 <= figures[k] <= 1.0 for k in figures if k.startswith(("stage", "all")))
    assert result["probes"][0]["stage 1"] > 0.8  # a brightened region is plain in the first maps, even random ones
    done = subprocess.run([*cmd[:3], str(tmp_path / "none"), *cmd[4:]], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "manifest.csv not found" in done.stderr


def test_judge_state_averages_splits_and_hands_the_model_to_candidate(tmp_path):
    log = tmp_path / "calls.txt"
    fake_python = tmp_path / "python"  # records ship_model's arguments and writes its --out
    fake_python.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        'while [ $# -gt 0 ]; do case $1 in --out) touch "$2";; esac; shift; done\n'
    )
    fake_candidate = tmp_path / "candidate.sh"
    fake_candidate.write_text(f'echo "candidate $* SEEN=$SEEN" >> {log}\n')
    fake_python.chmod(0o755)
    state, runs = tmp_path / "last.pt", tmp_path / "runs"
    state.write_bytes(b"")
    env = {**os.environ, "PYTHON": str(fake_python), "RUNS": str(runs), "CANDIDATE": str(fake_candidate)}
    cmd = ["bash", "scripts/judge_state.sh", "R", "t1", str(state)]
    done = subprocess.run(cmd, cwd=ROOT, env={**env, "OUT": str(tmp_path / "ev")}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 4 and all("ship_model.py --run R --flip-test" in c for c in calls[:3])
    assert calls[0].endswith(f"--model {state} --out {runs}/t1.safetensors")
    assert f"--model {runs}/t1.safetensors --start src/inharmony/weights/default.safetensors --alpha 0.5" in calls[1]
    assert "--ensemble src/inharmony/weights/default.safetensors --weights 1 0 --mask-member 1" in calls[2]
    assert "--shared-encoder" in calls[2] and calls[2].endswith(f"--out {runs}/split_t1.safetensors")
    assert calls[3] == f"candidate {runs}/split_t1.safetensors {tmp_path}/ev SEEN=0"
    # a learning encoder keeps its own (SHARED=0); the evaluation folder defaults to eval/split_TAG
    subprocess.run(cmd, cwd=ROOT, env={**env, "SHARED": "0", "SEEN": "1"}, capture_output=True, check=True)
    calls = log.read_text().splitlines()[4:]
    assert "--shared-encoder" not in calls[2]
    assert calls[3] == f"candidate {runs}/split_t1.safetensors eval/split_t1 SEEN=1"
    missing = subprocess.run(cmd[:4] + [str(tmp_path / "none.pt")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "none.pt" in missing.stderr
