"""How many composites does each model detect when every model flags the same share of authentic photos?

    python benchmarks/matched_detection.py eval/A eval/B ... [--authentic heldout] [--rate R] [--out FILE.json]

Each eval folder (``inharmony evaluate --per-image``) holds one model. Its raw image scores are thresholded where a
share R of the ``--authentic`` set's photos (default: the held-out photos) score above (default R: the first
model's own false-alarm rate there at its calibrated threshold), and the share of each set's composites above that
threshold is printed: a point of each model's ROC curve, free of how each one was calibrated
(inharmony.verdict.detection_at_false_alarm). Every later model is then compared with the first: the gap in
detections with a 95 % interval from a paired bootstrap that redraws the authentic photos (hence the thresholds)
and the composites (inharmony.engine.paired.matched_detection_gap; --resamples, default 2000).
"""

import argparse
import json

import numpy as np

from inharmony.engine.paired import matched_detection_gap, read_per_image
from inharmony.fileio import write_text_atomic
from inharmony.verdict import detection_at_false_alarm, threshold_at_false_alarm


def _raw(row: dict) -> float:
    return float(row.get("raw_score") or row["score"])


def _scores(rows: dict[str, dict], authentic: bool) -> dict[str, float]:
    """The raw image scores of a set's authentic photos (or its composites), by image name."""
    return {name: _raw(r) for name, r in rows.items() if (r["authentic"] == "True") == authentic}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("evals", nargs="+", help="evaluation folders or per_image.csv files, one model each")
    parser.add_argument("--authentic", default="heldout", help="the set of authentic photos that fixes the rate")
    parser.add_argument("--rate", type=float, help="false-alarm rate on it (default: the first model's own)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap draws for the gaps (default 2000)")
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()
    runs = {path: read_per_image(path) for path in args.evals}
    for path, sets in runs.items():
        if args.authentic not in sets:
            raise SystemExit(f"{path} has no set {args.authentic!r} (sets: {sorted(sets)})")
    first = runs[args.evals[0]][args.authentic].values()
    rate = args.rate if args.rate is not None else float(np.mean([float(r["score"]) > 0.5 for r in first]))
    names = sorted(  # the sets that hold composites
        {
            s
            for sets in runs.values()
            for s, rows in sets.items()
            if any(r["authentic"] == "False" for r in rows.values())
        }
    )
    # each evaluation's raw scores by image name: its authentic photos on --authentic, its composites per set
    negatives = {p: _scores(sets[args.authentic], authentic=True) for p, sets in runs.items()}
    positives = {p: {n: _scores(sets.get(n, {}), authentic=False) for n in names} for p, sets in runs.items()}
    print(f"composites detected where {rate:.2%} of '{args.authentic}' photos are flagged (raw image scores)\n")
    print("| evaluation | threshold | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    results = {}
    for path in runs:
        neg = list(negatives[path].values())
        row = {n: detection_at_false_alarm(list(c.values()), neg, rate)[0] for n, c in positives[path].items() if c}
        cells = [f"{row[n]:.1%}" if n in row else "–" for n in names]
        row["threshold"] = threshold_at_false_alarm(neg, rate)
        results[path] = row
        print(f"| {path} | {row['threshold']:.3f} | " + " | ".join(cells) + " |")
    gaps, first = {}, args.evals[0]
    if len(runs) > 1:
        print(f"\ngaps against {first} (percentage points, 95 % interval, share of resamples above)\n")
        print("| evaluation | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
    for path in list(runs)[1:]:
        cells, gaps[path] = [], {}
        for name in names:
            if not positives[first][name] or not positives[path][name]:
                cells.append("–")
                continue
            gap = matched_detection_gap(
                negatives[first],
                negatives[path],
                positives[first][name],
                positives[path][name],
                rate,
                resamples=args.resamples,
            )
            gaps[path][name] = {"delta": gap.delta, "low": gap.low, "high": gap.high, "b_above": gap.b_above}
            cells.append(f"{gap.delta:+.1f} [{gap.low:+.1f}, {gap.high:+.1f}] {gap.b_above:.0%}")
        print(f"| {path} | " + " | ".join(cells) + " |")
    if args.out:
        document = {"authentic": args.authentic, "rate": rate, "models": results, "gaps_against_first": gaps}
        write_text_atomic(args.out, json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
