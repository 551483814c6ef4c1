"""Compose the markdown comparison table from EVAL_DIR/<model>__<set>/results.json files.

Usage: python scripts/results_table.py EVAL_DIR [--groups]
"""

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("eval_dir")
    parser.add_argument("--groups", action="store_true", help="also list every group (subset / source)")
    args = parser.parse_args()
    runs = {}
    for path in sorted(Path(args.eval_dir).glob("*__*/results.json")):
        model, data = path.parent.name.split("__", 1)
        runs.setdefault(model, {})[data] = json.loads(path.read_text())["results"]
    sets = sorted({d for r in runs.values() for d in r} - {"realdata-by-subset"})
    head = "| model | " + " | ".join(f"{s} AP | {s} F1 | {s} IoU" for s in sets) + " |"
    print(head)
    print("|---|" + "---:|" * (3 * len(sets)))
    for model, results in runs.items():
        cells = []
        for s in sets:
            o = results.get(s, {}).get("overall")
            cells += [f"{o['AP']:.2f}", f"{o['F1']:.4f}", f"{o['IoU']:.2f}"] if o else ["–"] * 3
        print(f"| {model} | " + " | ".join(cells) + " |")
    if args.groups:
        for model, results in runs.items():
            for s, res in results.items():
                print(f"\n**{model} on {s}**\n\n| group | n | AP | F1 | IoU |\n|---|---:|---:|---:|---:|")
                for g, m in res.items():
                    print(f"| {g} | {m['n']} | {m['AP']:.2f} | {m['F1']:.4f} | {m['IoU']:.2f} |")


if __name__ == "__main__":
    main()
