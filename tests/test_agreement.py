"""Probe agreement: each set's figure against the target's across models, from several evaluations' summaries."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inharmony.engine.agreement import overall_figures, probe_agreement

ROOT = Path(__file__).resolve().parents[1]


def _results(folder: Path, rows: list[tuple[str, str, float]]) -> Path:
    folder.mkdir(parents=True)
    summary = [{"model": m, "set": s, "group": "overall", "AP": ap, "AUROC": 0.5} for m, s, ap in rows]
    summary += [{"model": m, "set": s, "group": "libcom", "AP": 0.0, "AUROC": 0.5} for m, s, _ in rows]  # not overall
    summary += [{"model": m, "set": "all", "group": "overall", "AP": float(i)} for i, (m, _, _) in enumerate(rows)]
    summary += [{"model": rows[0][0], "set": "heldout", "group": "overall", "AP": float("nan")}]
    (folder / "results.json").write_text(json.dumps({"meta": {}, "summary": summary}), encoding="utf-8")
    return folder


def test_agreement_joins_evaluations_by_label_and_ranks_probes(tmp_path):
    real = {"a": 70.0, "b": 75.0, "c": 80.0, "d": 72.0}
    good = {"a": 60.0, "b": 66.0, "c": 71.0, "d": 61.0}  # same order as the target
    bad = {"a": 50.0, "b": 40.0, "c": 30.0, "d": 45.0}  # reversed
    rows = [(m, "realdata", real[m]) for m in real] + [(m, "swap", bad[m]) for m in real]
    standard = _results(tmp_path / "std", rows)
    probe = _results(tmp_path / "probe", [(m, "wall", good[m]) for m in "abc"] + [("e", "wall", 99.0)])
    table = overall_figures([standard, probe / "results.json"])
    assert table["a"] == {"realdata": 70.0, "swap": 50.0, "wall": 60.0} and table["e"] == {"wall": 99.0}
    agreement = probe_agreement(table)
    assert agreement["wall"]["models"] == ["a", "b", "c"]  # e has no realdata, d no wall
    assert agreement["wall"]["spearman"] == 1.0 and agreement["wall"]["pearson"] > 0.99
    assert agreement["swap"]["spearman"] == -1.0 and "heldout" not in agreement
    clash = _results(tmp_path / "clash", [("a", "realdata", 71.0)])
    with pytest.raises(ValueError, match="a on realdata"):
        overall_figures([standard, clash])
    with pytest.raises(ValueError, match="at least three models"):
        probe_agreement({"a": {"realdata": 1.0, "x": 2.0}})
    with pytest.raises(FileNotFoundError, match="results.json"):
        overall_figures([tmp_path / "missing"])
    out = tmp_path / "agreement.json"
    script = ROOT / "benchmarks" / "probe_agreement.py"
    cmd = [sys.executable, str(script), str(standard), str(probe), "--out", str(out)]
    printed = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "| wall | 3 | +0.999 | +1.000 |" in printed and "| e | – | – | 99.00 |" in printed
    assert json.loads(out.read_text())["agreement"]["swap"]["spearman"] == -1.0
