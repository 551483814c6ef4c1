"""Does a model flag the authentic photos it trained on less often than the ones it never saw?

    inharmony predict ../shared/photos/imagenet-sample ../shared/photos/bsds500/images --model FILE --out eval/P
    python benchmarks/seen_photo_gap.py eval/P1/summary.csv eval/P2/summary.csv ... [--photos ../shared/photos]
        [--test-fraction 0.1] [--out FILE.json]

Each ``summary.csv`` (``inharmony predict`` on the photo folder, every photo authentic) holds one model's calibrated
image scores. The photos are split as training splits them (``index_photos(photos, test_fraction)``: the synthetic
recipes train on the ``train`` photos only); for each model the share of each split's photos flagged (score > 0.5)
and their median score are printed, with the gap held-out − training and its 95 % bootstrap interval (photos
redrawn within each split). A gap well above zero means the image score learnt the training photos as authentic
rather than what makes a photo authentic: its false alarms on new photos come from that. Every later summary is
also compared with the first, photo by photo: how much more its flags rose on held-out photos than on training
ones (the difference of the two gaps, paired bootstrap), over all photos and within each source folder (the
held-out split holds more of some sources than the training split does).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from inharmony.data.synth.photos import index_photos
from inharmony.fileio import write_text_atomic
from inharmony.verdict import read_image_scores


def split_scores(summary: str | Path, split: dict[Path, str]) -> dict[str, dict[Path, float]]:
    """The scores of ``summary``'s photos by file, for each training split (photos outside ``split``: ignored)."""
    out: dict[str, dict[Path, float]] = {"train": {}, "test": {}}
    for path, score in read_image_scores(summary).items():
        if path in split:
            out[split[path]][path] = score
    if not out["train"] or not out["test"]:
        raise SystemExit(f"{summary}: no scored photo of the {'training' if not out['train'] else 'held-out'} split")
    return out


def paired_gap_change(a: dict, b: dict, resamples: int, seed: int = 0) -> dict[str, float]:
    """(B's held-out gap) − (A's), photo by photo on the photos both scored, with a 95 % paired bootstrap interval."""
    rng = np.random.default_rng(seed)
    change = {}
    for s in ("train", "test"):
        common = sorted(set(a[s]) & set(b[s]))
        change[s] = np.array([(b[s][p] > 0.5) - (a[s][p] > 0.5) for p in common], float)
    draws = [
        rng.choice(change["test"], change["test"].size).mean()
        - rng.choice(change["train"], change["train"].size).mean()
        for _ in range(resamples)
    ]
    value = change["test"].mean() - change["train"].mean()
    return {
        "change_train": round(100 * change["train"].mean(), 2),
        "change_test": round(100 * change["test"].mean(), 2),
        "gap_change": round(100 * value, 2),
        "gap_change_low": round(100 * float(np.percentile(draws, 2.5)), 2),
        "gap_change_high": round(100 * float(np.percentile(draws, 97.5)), 2),
    }


def flagged_gap(scores: dict[str, dict[Path, float]], resamples: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    train, test = (np.fromiter(scores[s].values(), float) for s in ("train", "test"))
    train, test, medians = train > 0.5, test > 0.5, (np.median(train), np.median(test))
    draws = [rng.choice(test, test.size).mean() - rng.choice(train, train.size).mean() for _ in range(resamples)]
    return {
        "photos_train": int(train.size),
        "photos_test": int(test.size),
        "flagged_train": round(100 * train.mean(), 2),
        "flagged_test": round(100 * test.mean(), 2),
        "gap": round(100 * (test.mean() - train.mean()), 2),
        "gap_low": round(100 * float(np.percentile(draws, 2.5)), 2),
        "gap_high": round(100 * float(np.percentile(draws, 97.5)), 2),
        "median_train": round(float(medians[0]), 4),
        "median_test": round(float(medians[1]), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("summaries", nargs="+", help="inharmony predict's summary.csv on the photos, one model each")
    parser.add_argument("--photos", default="../shared/photos", help="the photo folder the recipes train on")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="as data.test_fraction (default 0.1)")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()
    photos, _ = index_photos(args.photos, args.test_fraction)
    split = {p.path.resolve(): p.split for p in photos}
    source = {p.path.resolve(): p.path.relative_to(args.photos).parts[0] for p in photos}
    scores = {s: split_scores(s, split) for s in args.summaries}
    results = {s: flagged_gap(v, args.resamples) for s, v in scores.items()}
    first = args.summaries[0]

    def only(v: dict, name: str | None) -> dict:
        return {k: {p: x for p, x in d.items() if name is None or source[p] == name} for k, d in v.items()}

    for s in args.summaries[1:]:
        results[s]["against_first"] = {
            name or "all": paired_gap_change(only(scores[first], name), only(scores[s], name), args.resamples)
            for name in [None, *sorted(set(source.values()))]
        }
    print("| summary | training photos flagged | held-out photos flagged | gap (95 % interval) | medians |")
    print("|---|---:|---:|---|---:|")
    for s, r in results.items():
        gap = f"{r['gap']:+.1f} [{r['gap_low']:+.1f}, {r['gap_high']:+.1f}]"
        print(
            f"| {s} | {r['flagged_train']:.1f} % ({r['photos_train']}) | {r['flagged_test']:.1f} % "
            f"({r['photos_test']}) | {gap} | {r['median_train']:.3f} / {r['median_test']:.3f} |"
        )
    if len(args.summaries) > 1:
        print(f"\nflags gained against {first}, photo by photo (percentage points)\n")
        print("| summary | photos | training photos | held-out photos | held-out − training (95 % interval) |")
        print("|---|---|---:|---:|---|")
        for s in args.summaries[1:]:
            for name, c in results[s]["against_first"].items():
                print(
                    f"| {s} | {name} | {c['change_train']:+.1f} | {c['change_test']:+.1f} | {c['gap_change']:+.1f} "
                    f"[{c['gap_change_low']:+.1f}, {c['gap_change_high']:+.1f}] |"
                )
    if args.out:
        write_text_atomic(args.out, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
