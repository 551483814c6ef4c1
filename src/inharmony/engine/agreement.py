"""Which probe ranks models as a target set does: correlation across models of each set's figure with the target's.

A probe earns its place when the models it prefers are the ones the real composites prefer. Given the summaries of
several evaluations (``results.json`` of ``inharmony evaluate``; a model may appear in several, under one label),
:func:`probe_agreement` collects each (model, set) overall figure and, for every set measured on at least three of
the models that the target set also measured, Pearson's and Spearman's correlation with the target across them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from scipy import stats


def overall_figures(paths: list[str | Path], metric: str = "AP") -> dict[str, dict[str, float]]:
    """{model: {set: ``metric``}} from the overall rows of the ``results.json`` files (or folders holding one) in
    ``paths`` (not the pooled ``all`` rows, which depend on what else was evaluated with them); a (model, set)
    measured twice must agree within 0.01, else ValueError names both files."""
    table: dict[str, dict[str, float]] = {}
    where: dict[tuple[str, str], Path] = {}
    for path in map(Path, paths):
        path = path / "results.json" if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"no evaluation results at {path} (inharmony evaluate --out writes results.json)")
        for row in json.loads(path.read_text(encoding="utf-8"))["summary"]:
            if row.get("group") != "overall" or row.get("set") == "all" or row.get(metric) is None:
                continue
            key, value = (row["model"], row["set"]), float(row[metric])
            if math.isnan(value):  # e.g. AP of a set of authentic photos only
                continue
            old = table.setdefault(key[0], {}).get(key[1])
            if old is not None and abs(old - value) > 0.01:
                raise ValueError(f"{key[0]} on {key[1]}: {metric} {old} in {where[key]} but {value} in {path}")
            table[key[0]][key[1]] = value
            where.setdefault(key, path)
    return table


def probe_agreement(table: dict[str, dict[str, float]], target: str = "realdata") -> dict[str, dict]:
    """{set: {"models", "pearson", "spearman"}} for every set other than ``target`` measured on ≥ 3 of the models
    that have ``target`` (figures from :func:`overall_figures`)."""
    with_target = {m: sets for m, sets in table.items() if target in sets}
    if len(with_target) < 3:
        raise ValueError(f"probe agreement needs at least three models measured on {target!r}, got {len(with_target)}")
    names = sorted({s for sets in with_target.values() for s in sets} - {target})
    out = {}
    for name in names:
        models = sorted(m for m, sets in with_target.items() if name in sets)
        if len(models) < 3:
            continue
        x = [with_target[m][target] for m in models]
        y = [with_target[m][name] for m in models]
        out[name] = {
            "models": models,
            "pearson": round(float(stats.pearsonr(x, y)[0]), 3),
            "spearman": round(float(stats.spearmanr(x, y)[0]), 3),
        }
    return out
