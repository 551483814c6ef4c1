"""Which part of a verdict model's output tells composites from authentic photos? (issue 21, the image score)

A model with a verdict head answers twice: the localiser's candidate map (where the region would be) and the
verdict (whether there is one); the shipped image score is the mean of the top 1 % of their product. This prints
the composites-vs-authentic AUROC of each part, per set, so that a change of the score is chosen on figures:

- ``score``: the shipped raw score (top 1 % of the gated map);
- ``verdict``: the verdict's probability alone;
- ``candidate``: the top 1 % of the candidate map alone, and ``candidate area``: its share above one half.

Sets are ``inharmony evaluate``'s ``NAME=SPEC`` (composites against the authentic photos of the same set; a set
without any, such as a synthetic test folder read without its twins, is scored against ``--negatives``).
Choose on the probes and on training rows (``--split train``), never on ../shared/realdata.

    python benchmarks/score_parts.py --model default --data swap=swap:../shared/photos \
        --data synth=data/synth_v2/manifest.csv --data paste=data/synth_v2_paste/manifest.csv \
        [--negatives heldout=heldout:../shared/photos] [--out benchmarks/results/score_parts.json]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from inharmony.engine.report import load_item, parse_set
from inharmony.fileio import write_text_atomic
from inharmony.inference.predictor import Predictor
from inharmony.verdict import auroc, image_score

PARTS = ("score", "verdict", "candidate", "candidate area")


def parts(predictor: Predictor, items: list, batch_size: int = 16) -> list[tuple[bool, dict]]:
    """(is a composite, {part: value}) for every item."""
    out = []
    for i in range(0, len(items), batch_size):
        loaded = []
        for item in items[i : i + batch_size]:
            try:
                loaded.append(load_item(item))
            except ValueError as exc:  # one unreadable item is skipped, never the rest
                print(f"score_parts: skipped {item.name}: {exc}", file=sys.stderr)
        if not loaded:
            continue
        batch = np.stack([predictor.preprocess(image) for image, _ in loaded])
        predictions = predictor.predict_batch(batch, [(predictor.size, predictor.size)] * len(loaded))
        for (_, mask), pred in zip(loaded, predictions):
            prob, cand = pred.low, pred.candidate_low
            if cand is None:
                raise SystemExit("score_parts: the model has no verdict head (no candidate map to take apart)")
            peak = np.unravel_index(np.argmax(cand), cand.shape)  # σ(verdict) = gated / candidate at any pixel
            values = {
                "score": pred.raw_score,
                "verdict": float(prob[peak] / max(float(cand[peak]), 1e-6)),
                "candidate": image_score(cand),
                "candidate area": float((cand > 0.5).mean()),
            }
            out.append((mask is not None, values))
    return out


def table(scored: dict[str, list], negatives: list) -> dict:
    """AUROC of each part per set (composites against the set's own authentic photos, else ``negatives``)."""
    result = {}
    for name, rows in scored.items():
        pos = [v for composite, v in rows if composite]
        neg = [v for composite, v in rows if not composite] or [v for composite, v in negatives if not composite]
        result[name] = {"composites": len(pos), "authentic": len(neg)}
        for part in PARTS:
            value = auroc([v[part] for v in pos], [v[part] for v in neg])
            result[name][part] = None if np.isnan(value) else round(value, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", action="append", required=True, metavar="NAME=SPEC")
    parser.add_argument("--negatives", metavar="NAME=SPEC", help="authentic photos for sets without their own")
    parser.add_argument("--split", default="test", choices=("test", "train", "all"), help="manifest rows to read")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    predictor = Predictor.from_checkpoint(args.model)
    split = None if args.split == "all" else args.split
    scored = {s.name: parts(predictor, s.items) for s in (parse_set(d, split=split) for d in args.data)}
    negatives = parts(predictor, parse_set(args.negatives).items) if args.negatives else []
    result = {"model": args.model, "split": args.split, "auroc": table(scored, negatives)}
    print(f"{'set':14}" + "".join(f"{p:>16}" for p in PARTS))
    for name, row in result["auroc"].items():
        print(f"{name:14}" + "".join(f"{'–' if row[p] is None else row[p]:>16}" for p in PARTS))
    if args.out:
        write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
