"""Is model B better than model A on the same images, beyond chance? Paired bootstrap gaps per evaluation set.

    python benchmarks/paired_difference.py eval/A eval/B [--model-a LABEL] [--model-b LABEL] \
        [--resamples 2000] [--by-group] [--out benchmarks/results/paired_A_B.json]
    python benchmarks/paired_difference.py eval/A            # A's own figures with their 95 % intervals

eval/A and eval/B: folders (or per_image.csv files) written by ``inharmony evaluate --per-image`` on the same sets.
Prints, per set, B − A for the composites' mean AP, the image score's AUROC and the false-alarm rate on authentic
photos, with 95 % intervals from resampling the set's images (composites and authentic photos apart), and the share
of resamples in which B is above A (inharmony.engine.paired). --by-group: each set's composites by their group
(e.g. realdata's source groups), each against all the set's authentic photos.
"""

import argparse
import json
from dataclasses import asdict

from inharmony.engine.paired import by_group, intervals, paired_gaps, read_per_image
from inharmony.fileio import write_text_atomic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a", help="evaluation of model A (folder or per_image.csv)")
    parser.add_argument("b", nargs="?", help="evaluation of model B (without it: A's figures and their intervals)")
    parser.add_argument("--model-a", help="A's model label, when its file holds several")
    parser.add_argument("--model-b", help="B's model label, when its file holds several")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by-group", action="store_true", help="each set's composites by their group as well")
    parser.add_argument("--out", help="write the gaps as JSON")
    args = parser.parse_args()
    split = by_group if args.by_group else dict
    a = split(read_per_image(args.a, args.model_a))
    if args.b is None:
        own(a, args)
        return
    b = split(read_per_image(args.b, args.model_b))
    shared = sorted(set(a) & set(b))
    if not shared:
        raise SystemExit(f"{args.a} and {args.b} share no evaluation set")
    results = {}
    print(f"B − A, A = {args.a}, B = {args.b}; 95 % paired bootstrap interval, {args.resamples} resamples\n")
    print("| set | images | figure | A | B | B − A | 95 % interval | B above A |")
    print("|---|---:|---|---:|---:|---:|---|---:|")
    for name in shared:
        gaps = paired_gaps(a[name], b[name], resamples=args.resamples, seed=args.seed)
        results[name] = [asdict(g) | {"delta": g.delta} for g in gaps]
        for g in gaps:
            scale = "{:.3f}" if g.figure == "AUROC" else "{:.2f}"
            cells = [scale.format(x) for x in (g.a, g.b, g.delta, g.low, g.high)]
            print(
                f"| {name} | {len(a[name])} | {g.figure} | {cells[0]} | {cells[1]} | {cells[2]} | "
                f"{cells[3]} … {cells[4]} | {g.b_above:.0%} |"
            )
    if args.out:
        write_text_atomic(args.out, json.dumps({"a": args.a, "b": args.b, "sets": results}, indent=1))


def own(a: dict, args: argparse.Namespace) -> None:
    """One evaluation's figures per set, each with its 95 % bootstrap interval."""
    results = {}
    print(f"{args.a}: 95 % bootstrap interval over each set's images, {args.resamples} resamples\n")
    print("| set | images | figure | value | 95 % interval |")
    print("|---|---:|---|---:|---|")
    for name in sorted(a):
        rows = intervals(a[name], resamples=args.resamples, seed=args.seed)
        results[name] = [dict(figure=f, value=v, low=lo, high=hi) for f, v, lo, hi in rows]
        for figure, value, low, high in rows:
            scale = "{:.3f}" if figure == "AUROC" else "{:.2f}"
            print(f"| {name} | {len(a[name])} | {figure} | {scale.format(value)} | "
                  f"{scale.format(low)} … {scale.format(high)} |")  # fmt: skip
    if args.out:
        write_text_atomic(args.out, json.dumps({"a": args.a, "sets": results}, indent=1))


if __name__ == "__main__":
    main()
