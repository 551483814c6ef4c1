"""Which probe ranks models as the real composites do? Each set's overall figure against the target's, across models.

    python benchmarks/probe_agreement.py eval/A eval/B … [--target realdata] [--metric AP] \
        [--out benchmarks/results/probe_agreement.json]

eval/…: folders written by ``inharmony evaluate`` (a model measured in several, e.g. its standard sets in one and a
new probe in another, joins up by its label). Prints each model's figures and, per set, Pearson's and Spearman's
correlation with the target across the models that have both (inharmony.engine.agreement). The target is measured,
never trained on: this chooses probes, not models.
"""

import argparse
import json

from inharmony.engine.agreement import overall_figures, probe_agreement
from inharmony.fileio import write_text_atomic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("evals", nargs="+", help="evaluation folders (or results.json files)")
    parser.add_argument("--target", default="realdata")
    parser.add_argument("--metric", default="AP", help="a summary column: AP, AUROC, IoU, …")
    parser.add_argument("--out", help="write the table and the correlations as JSON")
    args = parser.parse_args()
    table = overall_figures(args.evals, args.metric)
    agreement = probe_agreement(table, args.target)
    sets = [args.target, *agreement]
    print("| model | " + " | ".join(sets) + " |")
    print("|---|" + "---:|" * len(sets))
    for model in sorted(table, key=lambda m: -table[m].get(args.target, float("-inf"))):
        cells = [f"{table[model][s]:.2f}" if s in table[model] else "–" for s in sets]
        print(f"| {model} | " + " | ".join(cells) + " |")
    print(f"\n| set | models | Pearson r with {args.target} | Spearman ρ |\n|---|---:|---:|---:|")
    for name, row in sorted(agreement.items(), key=lambda kv: -kv[1]["spearman"]):
        print(f"| {name} | {len(row['models'])} | {row['pearson']:+.3f} | {row['spearman']:+.3f} |")
    if args.out:
        result = {"target": args.target, "metric": args.metric, "evals": args.evals, "table": table}
        write_text_atomic(args.out, json.dumps({**result, "agreement": agreement}, indent=2) + "\n")


if __name__ == "__main__":
    main()
