"""How far fine-tuned, averaged or anchored states lie from their start in weight space.

    python benchmarks/weight_distance.py START FILE… [--out benchmarks/results/weight_distance.json]

For each FILE (a model file of START's architecture and config): the L2 distance of its learned weights from
START's, that distance relative to START's norm, and the share of the squared distance in the encoder
(inharmony.checkpoint.weight_distance). Set beside each state's paired gaps, it shows whether a loss grows with
how far a state moved rather than with how it was trained.
"""

import argparse
import json

from inharmony.checkpoint import weight_distance
from inharmony.fileio import write_text_atomic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("start", help="the model file the others are measured from")
    parser.add_argument("files", nargs="+", help="model files of the same architecture and config")
    parser.add_argument("--out", help="write the distances as JSON")
    args = parser.parse_args()
    rows = {f: weight_distance(args.start, f) for f in args.files}
    print(f"distance from {args.start}\n\n| model | L2 distance | relative | encoder share |\n|---|---:|---:|---:|")
    for f, row in rows.items():
        print(f"| {f} | {row['distance']:.3f} | {row['relative']:.4f} | {row['encoder_share']:.2f} |")
    if args.out:
        write_text_atomic(args.out, json.dumps({"start": args.start, "distances": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
