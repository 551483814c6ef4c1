"""Do photo-independent colour cues tell a composite from its authentic twin? (issue 21, the verdict)

An authentic photo has one illuminant and one camera pipeline; a region recoloured or pasted from elsewhere
carries another. Forensics reads that from statistics that depend little on *what* a region shows:

- grey world: the mean colour per channel;
- grey edge: the mean absolute gradient per channel, an illuminant estimate that object colour moves less;
- high frequency: the mean absolute residual after a 3×3 blur per channel (noise, sharpness, compression);
- spread: the standard deviation per channel (contrast, the tonal curve).

Each is pooled inside a region, outside it and in a ring around it, in log opponent coordinates; the inside −
outside and inside − ring differences (24 numbers) feed a cross-validated classifier (folds grouped by photo)
that scores composites against their own authentic twins of a synthetic test set (``inharmony data synth``).
The region is either the model's candidate map or, as an upper bound, the true mask. The model's own verdict
is scored on the same images for comparison.

The same classifiers also read the model's *deep* evidence: the feature maps its verdict head pools (fused
decoder features and the colour stream), pooled inside, outside and in a ring around the candidate or the true
mask. With the true mask this bounds what any verdict on these features could do if it knew where to look:
near the verdict's own figure, the features are what limits it; far above it, the candidate map.

    python benchmarks/verdict_cues.py [--model default] [--data data/synth_v2] [--split all|train|test] \
        [--out benchmarks/results/verdict_cues.json]
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from torch import Tensor

from inharmony.checkpoint import load_model
from inharmony.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize, to_tensor
from inharmony.imageio import read_square
from inharmony.inference.predictor import resolve_model_path
from inharmony.layers.colour import _OPPONENT

EPS = 1e-4
NUM_CUES = 24


def _pooled_maps(x: Tensor, scale: int) -> list[Tensor]:
    """The four per-channel statistic maps at 1/``scale`` resolution (B×3×h×w each, positive) plus E[x²]."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    rgb = (x * std + mean).clamp(0.0, 1.0)
    dx = (rgb[..., :, 1:] - rgb[..., :, :-1]).abs()
    dy = (rgb[..., 1:, :] - rgb[..., :-1, :]).abs()
    grad = F.pad(dx, (0, 1, 0, 0)) + F.pad(dy, (0, 0, 0, 1))
    high = (rgb - F.avg_pool2d(rgb, 3, stride=1, padding=1, count_include_pad=False)).abs()
    return [F.avg_pool2d(m, scale) for m in (rgb, grad, high, rgb * rgb)]


def _weighted_mean(maps: list[Tensor], weight: Tensor) -> list[Tensor]:
    total = weight.sum(dim=(2, 3)) + EPS
    return [(m * weight).sum(dim=(2, 3)) / total for m in maps]


def _describe(means: list[Tensor]) -> Tensor:
    """Pooled [rgb, grad, high, rgb²] means → B×12 log statistics in opponent coordinates."""
    colour, grad, high, square = means
    spread = (square - colour * colour).clamp_min(0.0).sqrt()
    opponent = _OPPONENT.to(colour)
    stats = [torch.log(s + EPS) @ opponent.T for s in (colour, grad, high, spread)]
    return torch.cat(stats, dim=1)


def colour_cues(x: Tensor, prob: Tensor, scale: int = 4, ring: int = 9) -> Tensor:
    """B×3×H×W ImageNet-normalised images and B×1×H×W candidate probabilities → B×24 cue contrasts.

    ``ring``: the width (in 1/``scale`` pixels, odd) of the neighbourhood the ring is dilated to."""
    maps = _pooled_maps(x, scale)
    inside = F.interpolate(prob.detach(), size=maps[0].shape[-2:], mode="bilinear", align_corners=False)
    around = (F.max_pool2d(inside, ring, stride=1, padding=ring // 2) - inside).clamp_min(0.0)
    region = _describe(_weighted_mean(maps, inside))
    outside = _describe(_weighted_mean(maps, 1.0 - inside))
    ring_stats = _describe(_weighted_mean(maps, around))
    return torch.cat([region - outside, region - ring_stats], dim=1)


def deep_cues(maps: list[Tensor], prob: Tensor, ring: int = 9) -> Tensor:
    """The verdict head's feature maps pooled under B×1×H×W weights: [inside, outside, inside − outside] of each
    (``inside_outside``), then the inside − ring difference → B×4ΣC."""
    from inharmony.layers.verdict_head import inside_outside, masked_mean

    size = maps[0].shape[-2:]
    inside = F.interpolate(prob.detach(), size=size, mode="bilinear", align_corners=False)
    around = (F.max_pool2d(inside, ring, stride=1, padding=ring // 2) - inside).clamp_min(0.0)
    parts = [inside_outside(m, inside) for m in maps]
    parts += [masked_mean(m, inside) - masked_mean(m, around) for m in maps]
    return torch.cat(parts, dim=1)


def photo_groups(rows: list[dict]) -> list[int]:
    """A cross-validation group per manifest row, one per source photo (``photo`` column; each row its own
    without it): a photo's pairs share their content and nearly their twin, so one fold must hold them all."""
    ids: dict = {}
    return [ids.setdefault(row.get("photo") or f"row {i}", len(ids)) for i, row in enumerate(rows)]


def scores_cv(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, kind: str) -> np.ndarray:
    """Each sample's score from a classifier that never saw its photo (cross-validated, folds grouped)."""
    if kind == "linear":
        features = np.c_[features, np.abs(features)]
        features = (features - features.mean(0)) / (features.std(0) + 1e-6)
        clf, method = LogisticRegression(max_iter=2000), "decision_function"
    else:
        clf, method = HistGradientBoostingClassifier(max_iter=200, random_state=0), "predict_proba"
    folds = min(5, len(set(groups.tolist())))
    if folds < 2:
        raise SystemExit("verdict_cues: the pairs come from fewer than 2 photos; cross-validation needs more")
    scores = cross_val_predict(clf, features, labels, groups=groups, cv=GroupKFold(folds), method=method)
    return scores if scores.ndim == 1 else scores[:, 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default="data/synth_v2")
    parser.add_argument("--out", default="benchmarks/results/verdict_cues.json")
    parser.add_argument(
        "--split",
        choices=("all", "train", "test"),
        default="all",
        help="the manifest rows to use (test: held-out photos)",
    )
    args = parser.parse_args()
    root = Path(args.data)
    rows = list(csv.DictReader(open(root / "manifest.csv", newline="")))
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    model = load_model(resolve_model_path(args.model, "torch")).float().eval()
    size = int(model.model_info.get("size", 160))
    found = {"candidate": [], "true mask": [], "deep on candidate": [], "deep on true mask": []}
    pooled: list[list[Tensor]] = []  # the maps the verdict head is given, per forward pass
    model.verdict_head.register_forward_hook(lambda module, inputs, output: pooled.append(inputs[1]))
    model.flip_test, model.shift_test = False, 0  # one pass: the hook sees the maps of this image only
    verdicts, labels, groups, delta_e = [], [], [], []
    group = photo_groups(rows)
    with torch.no_grad():
        for i, row in enumerate(rows):
            truth = torch.from_numpy(read_square(root / row["mask"], size, mask=True)).float()[None, None]
            for path, label in ((row["composite"], 1), (row["real"], 0)):
                x = normalize(to_tensor(read_square(root / path, size)))[None]
                out = model(x)
                candidate = torch.sigmoid(out["mask_logits"])
                found["candidate"].append(colour_cues(x, candidate)[0].numpy())
                found["true mask"].append(colour_cues(x, truth)[0].numpy())
                maps = pooled.pop()
                found["deep on candidate"].append(deep_cues(maps, candidate)[0].numpy())
                found["deep on true mask"].append(deep_cues(maps, truth)[0].numpy())
                verdicts.append(out["verdict"].item())
                labels.append(label)
                groups.append(group[i])
                delta_e.append(float(row["delta_e"]))
    labels, groups, delta_e, verdicts = map(np.array, (labels, groups, delta_e, verdicts))
    result = {
        "model": args.model,
        "data": str(root),
        "split": args.split,
        "pairs": len(rows),
        "size": size,
        "verdict AUROC": round(float(roc_auc_score(labels, verdicts)), 3),
    }
    bound = verdicts
    for region, features in found.items():
        features = np.array(features)
        for kind in ("linear", "boosted"):
            name = f"{region}, {kind}" if region.startswith("deep") else f"cues on {region}, {kind}"
            scores = scores_cv(features, labels, groups, kind)
            result[name] = round(float(roc_auc_score(labels, scores)), 3)
            if name == "deep on true mask, boosted":
                bound = scores
    # by the size of the change: the verdict, and the deep features on the true mask (boosted trees)
    for lo, hi in ((0, 10), (10, 20), (20, 1000)):
        keep = (delta_e >= lo) & (delta_e < hi)
        for what, scores in (("verdict AUROC", verdicts), ("deep on true mask AUROC", bound)):
            band = f"{what}, dE {lo}-{hi} ({keep.sum() // 2} pairs)"
            has_both = len(set(labels[keep].tolist())) == 2
            result[band] = round(float(roc_auc_score(labels[keep], scores[keep])), 3) if has_both else None
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
