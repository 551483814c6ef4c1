"""Is the image score a probability, and what does each threshold cost? (issue 21, item 1)

Reads the per-image rows of an evaluation (``inharmony evaluate ... --per-image --out DIR``: ``score`` is the
model's calibrated score where it carries a calibration, ``raw_score`` the top-1 % mean) and prints, over every set
in it (or those named):

- reliability of each score: images binned by score (tenths), the mean score against the share of composites in
  each bin, the classes weighted to a share ``--prior`` of composites whatever the counts (0.5: an even mix; give
  the prior the model was calibrated for), the expected calibration error (ECE: weighted mean gap) and the Brier
  score under the same weights;
- operating points: for thresholds on the score, the share of composites detected per set, the false-alarm rate
  on all authentic photos and the balanced accuracy (mean of the two correct rates).

    python benchmarks/calibration.py --rows eval/DIR/per_image.csv [--model LABEL] [--sets swap,synth] \
        [--out benchmarks/results/calibration.json]
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def reliability(score: np.ndarray, composite: np.ndarray, prior: float = 0.5, bins: int = 10) -> dict:
    """Reliability for a share ``prior`` of composites: per bin the weighted mean score and share of composites;
    ECE and Brier."""
    weight = np.where(composite, prior / composite.sum(), (1 - prior) / (~composite).sum())
    which = np.clip((score * bins).astype(int), 0, bins - 1)
    table, ece = [], 0.0
    for k in range(bins):
        sel = which == k
        if not sel.any():
            continue
        w = weight[sel].sum()
        mean_score, share = float((weight[sel] * score[sel]).sum() / w), float((weight[sel] * composite[sel]).sum() / w)
        ece += w * abs(mean_score - share)
        table.append(
            {"bin": f"{k / bins:.1f}–{(k + 1) / bins:.1f}", "n": int(sel.sum()), "score": mean_score, "share": share}
        )
    brier = float(prior * ((score[composite] - 1) ** 2).mean() + (1 - prior) * (score[~composite] ** 2).mean())
    return {"ece": float(ece), "brier": brier, "bins": table}


def operating_points(score: np.ndarray, composite: np.ndarray, sets: np.ndarray) -> list[dict]:
    out = []
    for t in THRESHOLDS:
        fired = score > t
        row = {"threshold": t, "false_alarm": float(fired[~composite].mean())}
        row["detected"] = float(fired[composite].mean())
        row["balanced_accuracy"] = 0.5 * (row["detected"] + 1 - row["false_alarm"])
        row["per_set"] = {s: float(fired[composite & (sets == s)].mean()) for s in sorted(set(sets[composite]))}
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", required=True, help="per_image.csv of 'inharmony evaluate --per-image'")
    parser.add_argument("--model", help="model label in the rows (default: the only one)")
    parser.add_argument("--sets", help="comma-separated sets to pool (default: all)")
    parser.add_argument("--prior", type=float, default=0.5, help="share of composites to weigh the classes to")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args()
    rows = [r for r in csv.DictReader(open(args.rows, encoding="utf-8")) if not r.get("error")]
    models = sorted({r["model"] for r in rows})
    model = args.model or (models[0] if len(models) == 1 else None)
    if model not in models:
        parser.error(f"--model: choose one of {models}")
    wanted = set(args.sets.split(",")) if args.sets else None
    rows = [r for r in rows if r["model"] == model and (wanted is None or r["set"] in wanted)]
    if "raw_score" not in rows[0]:
        parser.error(f"{args.rows} has no raw_score column (written by an older inharmony evaluate)")
    composite = np.array([r["authentic"] != "True" for r in rows])
    sets = np.array([r["set"] for r in rows])
    result = {
        "rows": args.rows,
        "model": model,
        "n_composites": int(composite.sum()),
        "n_authentic": int((~composite).sum()),
        "prior": args.prior,
    }
    for key in ("raw_score", "score"):
        score = np.array([float(r[key]) for r in rows])
        result[key] = {
            "reliability": reliability(score, composite, args.prior),
            "operating_points": operating_points(score, composite, sets),
        }
        rel = result[key]["reliability"]
        print(f"\n{key}: ECE {rel['ece']:.3f}, Brier {rel['brier']:.4f} (classes weighted to a share {args.prior:g})")
        print("| score bin | images | mean score | share of composites |\n|---|---:|---:|---:|")
        for b in rel["bins"]:
            print(f"| {b['bin']} | {b['n']} | {b['score']:.3f} | {b['share']:.3f} |")
        names = sorted(set(sets[composite]))
        print(
            "| threshold | "
            + " | ".join(f"{s} detected" for s in names)
            + " | all detected | false alarms | balanced accuracy |"
        )
        print("|---:|" + "---:|" * (len(names) + 3))
        for p in result[key]["operating_points"]:
            cells = [f"{100 * p['per_set'][s]:.1f} %" for s in names]
            cells += [
                f"{100 * p['detected']:.1f} %",
                f"{100 * p['false_alarm']:.1f} %",
                f"{100 * p['balanced_accuracy']:.1f} %",
            ]
            print(f"| {p['threshold']:.1f} | " + " | ".join(cells) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
