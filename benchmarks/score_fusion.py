"""Would two models' image scores, combined, tell composites from authentic photos better than either alone?

Reads the ``per_image.csv`` of ``inharmony evaluate --per-image`` for two models on the same sets and prints the
AUROC (composites against authentic photos: per set, and all composites against all authentic photos, as the
evaluation's "all" row) of ``(1 − w) · z(logit score_A) + w · z(logit score_B)`` for each weight ``w`` (z: standardised
over the authentic photos, so the two scales meet). Choose ``w`` on the probes (swap, synth_paste, heldout), never
on ../shared/realdata, whose row is only reported.

    python benchmarks/score_fusion.py --a eval/s5_default/per_image.csv --b eval/s5_consistency/per_image.csv \
        --out benchmarks/results/score_fusion.md
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from inharmony.fileio import atomic_path
from inharmony.verdict import auroc


def read_scores(path: Path, model: str | None = None) -> dict[tuple[str, str], tuple[float, bool]]:
    """(set, name) → (image score, authentic) of ``model`` in ``path`` (its only model when None)."""
    out = {}
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"model", "set", "name", "score", "authentic"} <= set(rows[0]):
        raise ValueError(f"{path}: expected the per_image.csv of 'inharmony evaluate --per-image'")
    models = list(dict.fromkeys(r["model"] for r in rows))
    if model is None and len(models) > 1:
        raise ValueError(f"{path} holds several models ({', '.join(models)}): name one")
    if model is not None and model not in models:
        raise ValueError(f"{path}: no model {model!r} (it holds {', '.join(models)})")
    for r in rows:
        if model is not None and r["model"] != model:
            continue
        out[(r["set"], r["name"])] = (float(r["score"]), r["authentic"] == "True")
    return out


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p) - np.log1p(-p)


def fuse(a: np.ndarray, b: np.ndarray, authentic: np.ndarray, weight: float) -> np.ndarray:
    za = (logit(a) - logit(a[authentic]).mean()) / (logit(a[authentic]).std() + 1e-6)
    zb = (logit(b) - logit(b[authentic]).mean()) / (logit(b[authentic]).std() + 1e-6)
    return (1 - weight) * za + weight * zb


def table(a_rows: dict, b_rows: dict, weights: list[float]) -> str:
    keys = sorted(set(a_rows) & set(b_rows))
    if not keys:
        raise ValueError("the two files share no (set, image)")
    sets = np.array([k[0] for k in keys])
    a = np.array([a_rows[k][0] for k in keys])
    b = np.array([b_rows[k][0] for k in keys])
    authentic = np.array([a_rows[k][1] for k in keys])
    names = [s for s in dict.fromkeys(sets) if authentic[sets == s].any() and (~authentic[sets == s]).any()]
    lines = ["| w (share of B) | " + " | ".join(names) + " | all |", "|---:|" + "---:|" * (len(names) + 1)]
    for w in weights:
        f = fuse(a, b, authentic, w)
        cells = [auroc(f[(sets == s) & ~authentic], f[(sets == s) & authentic]) for s in names]
        cells.append(auroc(f[~authentic], f[authentic]))
        lines.append(f"| {w:.2f} | " + " | ".join("–" if math.isnan(c) else f"{c:.3f}" for c in cells) + " |")
    counts = defaultdict(int)
    for s, auth in zip(sets, authentic):
        counts[(s, bool(auth))] += 1
    note = ", ".join(f"{s}: {counts[(s, False)]} composites / {counts[(s, True)]} authentic" for s in names)
    return "\n".join(lines) + f"\n\n({len(keys)} images in both files; {note}; 'all' adds every set's images)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, type=Path, help="per_image.csv of model A")
    parser.add_argument("--b", required=True, type=Path, help="per_image.csv of model B")
    parser.add_argument("--model-a", help="the model of --a (when the file holds several)")
    parser.add_argument("--model-b", help="the model of --b (when the file holds several)")
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.5,0.7,1", help="shares of B, comma-separated")
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    text = f"A = {args.a}, B = {args.b}\n\n" + table(
        read_scores(args.a, args.model_a), read_scores(args.b, args.model_b), weights
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)


if __name__ == "__main__":
    main()
