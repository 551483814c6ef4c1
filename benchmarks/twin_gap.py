"""Does the localiser see the change, or the object? Composite against its own twin, pixel by pixel (issue 21).

A region changed in place shows the same content in the composite and in its authentic twin; only its colour
differs. A salient-object segmenter gives both the same map, so it ranks the composite's region pixels above the
twin's about half the time; a model that sees the change ranks them above almost always. For every in-place pair
of a synthetic set written by ``inharmony data synth`` (copy-paste pairs are skipped: their twin is another
photo), on its held-out (test-split) photos by default:

- ``pixel rank``: the share of the region's pixels where the composite's mask logit exceeds the twin's (ties
  count one half), averaged over pairs: 0.5 = blind to the change, 1 = always sees it;
- ``logit gap``: the mean of (composite − twin) mask logits over the region, averaged over pairs;
- ``verdict rank``: the share of pairs whose composite gets the higher image score (verdict logit, or the top-1 %
  probability for a model without a verdict): the paired AUROC of the image-level answer.

The mask logit is the localiser's own (``mask_logits`` of a verdict model, before the gate). Split by the
region's mean ΔE.

    python benchmarks/twin_gap.py --model default --model runs/x/best.safetensors [--data data/synth_v2] \
        [--split test|train|all] [--out benchmarks/results/twin_gap.json]
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch

from inharmony.checkpoint import load_model
from inharmony.data.transforms import normalize, to_tensor
from inharmony.imageio import read_square
from inharmony.inference.predictor import resolve_model_path
from inharmony.verdict import image_score

BUCKETS = ((0, 10), (10, 20), (20, 30), (30, 1000))


def outputs(model: torch.nn.Module, image: np.ndarray) -> tuple[np.ndarray, float]:
    """The localiser's mask logits (H×W) and the image score of one image."""
    with torch.no_grad():
        out = model(normalize(to_tensor(image))[None])
    logits = (out["mask_logits"] if "mask_logits" in out else out["logits"])[0, 0].float().numpy()
    if "verdict" in out:
        return logits, float(out["verdict"][0])
    return logits, image_score(1.0 / (1.0 + np.exp(-out["logits"][0, 0].float().numpy())))


def measure(model: torch.nn.Module, rows: list[dict], root: Path, size: int) -> dict:
    """The three figures, overall and per ΔE bucket, of ``model`` (at ``size``²) on the pairs ``rows``."""
    pixel, gap, verdict, delta_e = [], [], [], []
    for row in rows:
        region = read_square(root / row["mask"], size, mask=True)
        if not region.any():
            continue
        comp, v_comp = outputs(model, read_square(root / row["composite"], size))
        twin, v_twin = outputs(model, read_square(root / row["real"], size))
        diff = comp[region] - twin[region]
        pixel.append(float((diff > 0).mean() + 0.5 * (diff == 0).mean()))
        gap.append(float(diff.mean()))
        verdict.append(1.0 if v_comp > v_twin else 0.5 if v_comp == v_twin else 0.0)
        delta_e.append(float(row["delta_e"]))
    pixel, gap, verdict, delta_e = map(np.array, (pixel, gap, verdict, delta_e))

    def summary(keep: np.ndarray) -> dict:
        return {
            "pairs": int(keep.sum()),
            "pixel rank": round(float(pixel[keep].mean()), 3) if keep.any() else None,
            "logit gap": round(float(gap[keep].mean()), 3) if keep.any() else None,
            "verdict rank": round(float(verdict[keep].mean()), 3) if keep.any() else None,
        }

    result = {"all": summary(np.ones(len(pixel), dtype=bool))}
    for lo, hi in BUCKETS:
        result[f"dE {lo}-{hi}"] = summary((delta_e >= lo) & (delta_e < hi))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="model name or file (repeatable; default: default)")
    parser.add_argument("--data", default="data/synth_v2")
    parser.add_argument("--split", default="test", choices=("test", "train", "all"))
    parser.add_argument("--out", default="benchmarks/results/twin_gap.json")
    args = parser.parse_args()
    root = Path(args.data)
    rows = [
        r
        for r in csv.DictReader(open(root / "manifest.csv", newline=""))
        if r["kind"] != "paste" and (args.split == "all" or r["split"] == args.split)
    ]
    if not rows:
        raise SystemExit(f"twin_gap: no in-place {args.split} pairs in {root / 'manifest.csv'}")
    result = {"data": str(root), "split": args.split}
    for ref in args.model or ["default"]:
        model = load_model(resolve_model_path(ref, "torch")).float().eval()
        size = int(model.model_info.get("size", 160))
        result[ref] = {"size": size, **measure(model, rows, root, size)}
        print(ref, json.dumps(result[ref]["all"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
