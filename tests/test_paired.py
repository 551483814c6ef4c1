"""Paired bootstrap gaps between two per-image evaluations (engine/paired.py, benchmarks/paired_difference.py)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inharmony.engine.paired import paired_gaps, read_per_image

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["model", "set", "group", "name", "authentic", "ap", "f1", "iou", "score", "error"]


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in COLUMNS} for r in rows)
    return path


def _script(name: str, *args) -> str:
    """Run ``benchmarks/NAME`` with ``args``; its standard output (it must succeed)."""
    done = subprocess.run(
        [sys.executable, f"benchmarks/{name}", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _rows(model: str, ap_shift: float, fa_scores: list[float], seed: int = 0, n: int = 40) -> list[dict]:
    rng = np.random.default_rng(seed)
    ap = np.clip(rng.uniform(0.3, 0.9, n) + ap_shift, 0, 1)
    rows = [
        dict(model=model, set="real", name=f"c{i}", authentic="False", ap=a, score=0.4 + 0.5 * a)
        for i, a in enumerate(ap)
    ]
    rows += [dict(model=model, set="real", name=f"a{i}", authentic="True", score=s) for i, s in enumerate(fa_scores)]
    rows.append(dict(model=model, set="real", name="broken", authentic="False", error="unreadable"))
    return rows


def test_a_consistent_gain_is_found_and_no_gain_is_not(tmp_path):
    authentic = [0.1, 0.2, 0.3, 0.6, 0.2, 0.1, 0.05, 0.4]
    a = read_per_image(_write(tmp_path / "a.csv", _rows("A", 0.0, authentic)))["real"]
    b = read_per_image(_write(tmp_path / "b.csv", _rows("B", 0.05, [s * 0.5 for s in authentic])))["real"]
    assert "broken" not in a and len(a) == 48  # rows with an error are left out
    gaps = {g.figure: g for g in paired_gaps(a, b, resamples=500)}
    ap = gaps["AP"]
    assert ap.delta == pytest.approx(ap.b - ap.a) and 0 < ap.delta <= 5.0 + 1e-9
    assert 0 < ap.low <= ap.delta <= ap.high and ap.b_above == 1.0  # every image gains: never below
    assert gaps["false alarms"].a == pytest.approx(12.5) and gaps["false alarms"].b == 0.0
    assert gaps["AUROC"].delta > 0
    same = {g.figure: g for g in paired_gaps(a, a, resamples=200)}
    assert same["AP"].delta == 0 and same["AP"].low == same["AP"].high == 0 and same["AP"].b_above == 0


def test_noise_gives_an_interval_around_zero(tmp_path):
    authentic = [0.1] * 8
    a = read_per_image(_write(tmp_path / "a.csv", _rows("A", 0.0, authentic, seed=1)))["real"]
    noisy = _rows("B", 0.0, authentic, seed=1)
    rng = np.random.default_rng(3)
    for r in noisy:
        if r["authentic"] == "False" and "ap" in r:
            r["ap"] = float(np.clip(r["ap"] + rng.normal(0, 0.1), 0, 1))
    b = read_per_image(_write(tmp_path / "b.csv", noisy))["real"]
    ap = next(g for g in paired_gaps(a, b, resamples=1000) if g.figure == "AP")
    assert ap.low < 0 < ap.high and 0.05 < ap.b_above < 0.95


def test_mismatched_or_ambiguous_files_are_refused(tmp_path):
    both = _write(tmp_path / "both.csv", _rows("A", 0, [0.1]) + _rows("B", 0, [0.1]))
    with pytest.raises(ValueError, match="holds models"):
        read_per_image(both)
    with pytest.raises(ValueError, match="no model 'C'"):
        read_per_image(both, "C")
    with pytest.raises(FileNotFoundError, match="--per-image"):
        read_per_image(tmp_path / "nothing")
    a = read_per_image(both, "A")["real"]
    fewer = dict(list(a.items())[:-1])
    with pytest.raises(ValueError, match="different images"):
        paired_gaps(a, fewer)


def test_the_script_prints_and_writes_the_gaps(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    _write(tmp_path / "a" / "per_image.csv", _rows("A", 0.0, [0.1, 0.7]))
    _write(tmp_path / "b" / "per_image.csv", _rows("B", -0.1, [0.1, 0.2]))
    out = tmp_path / "gaps.json"
    printed = _script("paired_difference.py", tmp_path / "a", tmp_path / "b", "--resamples", 200, "--out", out)
    assert "| real | 42 | AP |" in printed
    gaps = {g["figure"]: g for g in json.loads(out.read_text())["sets"]["real"]}
    assert gaps["AP"]["delta"] < 0 and gaps["AP"]["high"] <= 0  # B lost on every image
    assert gaps["false alarms"]["delta"] == pytest.approx(-50.0)


def test_one_evaluation_gets_intervals_around_its_figures(tmp_path):
    from inharmony.engine.paired import intervals

    rows = read_per_image(_write(tmp_path / "a.csv", _rows("A", 0.0, [0.1, 0.7, 0.2, 0.9])))["real"]
    figures = {f: (v, lo, hi) for f, v, lo, hi in intervals(rows, resamples=500)}
    assert sorted(figures) == ["AP", "AUROC", "false alarms"]
    for value, low, high in figures.values():
        assert low <= value <= high
    assert figures["false alarms"][0] == 50.0 and figures["false alarms"][2] - figures["false alarms"][1] > 20
    assert 0 < figures["AP"][2] - figures["AP"][1] < 20  # 40 composites: a few AP either way
    (tmp_path / "e").mkdir()
    _write(tmp_path / "e" / "per_image.csv", _rows("A", 0.0, [0.1, 0.7]))
    printed = _script("paired_difference.py", tmp_path / "e", "--resamples", 100)
    assert "| real | 42 | AP |" in printed and "…" in printed


def test_detection_at_a_matched_false_alarm_rate(tmp_path):
    from inharmony.verdict import detection_at_false_alarm

    negatives = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    assert detection_at_false_alarm([0.85, 0.92, 0.99, 0.5], negatives, 0.1) == (0.5, 0.9)  # one negative above
    assert detection_at_false_alarm([0.85, 0.92, 0.99, 0.5], negatives, 0.2) == (0.75, 0.8)
    assert detection_at_false_alarm([0.85], negatives, 0.0)[1] == 0.95  # none above
    with pytest.raises(ValueError, match="rate"):
        detection_at_false_alarm([0.5], negatives, 1.0)
    for name, shift in (("a", 0.0), ("b", 0.3)):  # b: the same authentic photos, composites scored higher
        (tmp_path / name).mkdir()
        rows = _rows(name.upper(), 0.0, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
        for r in rows:
            if r.get("authentic") == "False" and "score" in r:
                r["score"] = min(1.0, r["score"] - 0.3 + shift)
            r["set"] = "probe" if r.get("authentic") == "False" else "heldout"
        _write(tmp_path / name / "per_image.csv", rows)
    out = tmp_path / "m.json"
    _script("matched_detection.py", tmp_path / "a", tmp_path / "b", "--rate", 0.25, "--out", out)
    models = json.loads(out.read_text())["models"]
    a, b = models[str(tmp_path / "a")], models[str(tmp_path / "b")]
    assert a["threshold"] == b["threshold"] == 0.6  # 2 of 8 authentic photos above 0.6
    assert b["probe"] > a["probe"] and "heldout" not in a
    gap = json.loads(out.read_text())["gaps_against_first"][str(tmp_path / "b")]["probe"]
    assert gap["delta"] == pytest.approx(100 * (b["probe"] - a["probe"])) and gap["low"] <= gap["delta"] <= gap["high"]


def test_a_matched_detection_gap_has_an_interval_that_holds_the_threshold_too():
    from inharmony.engine.paired import matched_detection_gap

    rng = np.random.default_rng(3)
    negatives = {f"a{i}": float(v) for i, v in enumerate(rng.uniform(0, 1, 200))}
    low = {f"c{i}": float(v) for i, v in enumerate(rng.uniform(0.3, 1.0, 100))}
    high = {k: min(1.0, v + 0.2) for k, v in low.items()}  # every composite scored higher, photos the same
    gap = matched_detection_gap(negatives, negatives, low, high, 0.1, resamples=300)
    assert gap.delta > 0 and gap.low > 0 and gap.b_above == 1.0 and gap.low <= gap.delta <= gap.high
    assert gap.figure == "detected at 10.00% false alarms"
    same = matched_detection_gap(negatives, negatives, low, low, 0.1, resamples=100)
    assert same.delta == same.low == same.high == 0.0
    # higher scores on the authentic photos as well: the threshold moves with them and the gain shrinks
    shifted = {k: min(1.0, v + 0.2) for k, v in negatives.items()}
    assert matched_detection_gap(negatives, shifted, low, high, 0.1, resamples=100).delta < gap.delta
    with pytest.raises(ValueError, match="composites"):
        matched_detection_gap(negatives, negatives, low, {"x": 0.5}, 0.1)
    with pytest.raises(ValueError, match="authentic photos"):
        matched_detection_gap(negatives, {"x": 0.5}, low, low, 0.1)


def test_gaps_by_group_split_the_composites_and_keep_the_photos(tmp_path):
    def rows(model: str, shifts: dict[str, float]) -> list[dict]:
        out = [dict(model=model, set="real", group="authentic", name=f"a{i}", authentic="True", score=0.1 * i)
               for i in range(6)]  # fmt: skip
        for g, shift in shifts.items():
            out += [dict(model=model, set="real", group=g, name=f"{g}{i}", authentic="False", ap=0.5 + shift,
                         score=0.9) for i in range(5)]  # fmt: skip
        return out

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    _write(tmp_path / "a" / "per_image.csv", rows("A", {"paste": 0.0, "inplace": 0.0}))
    _write(tmp_path / "b" / "per_image.csv", rows("B", {"paste": -0.2, "inplace": 0.1}))
    out = tmp_path / "gaps.json"
    _script("paired_difference.py", tmp_path / "a", tmp_path / "b", "--by-group", "--resamples", 100, "--out", out)
    sets = json.loads(out.read_text())["sets"]
    assert sorted(sets) == ["real/inplace", "real/paste"]
    ap = {name: next(g for g in gaps if g["figure"] == "AP") for name, gaps in sets.items()}
    assert ap["real/paste"]["delta"] == pytest.approx(-20.0) and ap["real/inplace"]["delta"] == pytest.approx(10.0)
    assert {g["figure"] for g in sets["real/paste"]} == {"AP", "AUROC", "false alarms"}  # the set's photos kept
    whole = _script("paired_difference.py", tmp_path / "a", tmp_path / "b", "--resamples", 100)
    assert "| real | 16 | AP |" in whole and "real/paste" not in whole  # without --by-group: the set as a whole


def test_seen_photo_gap_finds_flags_gained_on_held_out_photos_only(tmp_path):
    from fakes import make_photos
    from inharmony.data.synth.photos import index_photos

    folder = tmp_path / "photos"
    for seed, src in enumerate(("a", "b")):
        make_photos(folder / src, n=20, size=(48, 40), seed=100 + 50 * seed)
    photos, _ = index_photos(folder, 0.25)
    held_out = {p.path.resolve() for p in photos if p.split == "test"}
    assert 0 < len(held_out) < len(photos)

    def summary(name: str, flag_held_out: bool) -> Path:
        path = tmp_path / f"{name}.csv"
        lines = ["file,score"] + [
            f"{p.path},{0.9 if flag_held_out and p.path.resolve() in held_out else 0.1}" for p in photos
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    out = tmp_path / "gap.json"
    text = _script(
        "seen_photo_gap.py",
        summary("start", False),
        summary("tuned", True),
        "--photos",
        folder,
        "--test-fraction",
        0.25,
        "--resamples",
        200,
        "--out",
        out,
    )
    result = json.loads(out.read_text())
    start, tuned = result[str(tmp_path / "start.csv")], result[str(tmp_path / "tuned.csv")]
    assert start["flagged_train"] == start["flagged_test"] == 0.0 and start["gap"] == 0.0
    assert tuned["flagged_train"] == 0.0 and tuned["flagged_test"] == 100.0
    change = tuned["against_first"]
    assert change["all"]["gap_change"] == 100.0 and set(change) == {"all", "a", "b"}
    assert "held-out − training" in text
