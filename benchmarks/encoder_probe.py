"""Which frozen encoder carries an in-place colour change? A linear-probe-style bound per encoder and size (issue 21)

Session 11 found that the shipped model's own features, pooled under the **true** mask, separate in-place
composites from their authentic twins at AUROC 0.646 only (``benchmarks/verdict_cues.py``): the features, not the
verdict head, limit the image score. This script asks the same question of other frozen encoders and input sizes
before anyone builds a model on them: each encoder's five feature maps are pooled inside the true region, outside
it and in a ring around it ([inside, outside, inside − outside, inside − ring] per channel), and a cross-validated
classifier (boosted trees, folds grouped by photo) scores composites against their twins, per stage and with all
stages together. A randomly initialised encoder of the same design is the control for "ImageNet features help".

Encoders (``--encoder``, repeatable): ``default`` (the shipped model's own encoder, as trained), or
``ARCH=WEIGHTS`` with ARCH ``mobilenetv2`` (torchvision ``.pth``) or ``efficientnet_lite0`` (the lukemelas-named
``efficientnet-lite0-*.pth``, loaded into timm's model by position), or ``ARCH=random`` (seeded random weights).

    python benchmarks/encoder_probe.py --data data/cues_v1 --split test --size 160 --size 256 \
        --encoder default --encoder mobilenetv2=PATH/mobilenet_v2-b0353104.pth \
        --encoder efficientnet_lite0=PATH/efficientnet-lite0-57934424.pth --encoder mobilenetv2=random \
        --out benchmarks/results/encoder_probe.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from inharmony.data.transforms import normalize, to_tensor
from inharmony.imageio import read_square
from inharmony.models.encoders import MobileNetV2Encoder, load_state_dict_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verdict_cues import photo_groups, scores_cv  # noqa: E402  (session 11's grouped folds and classifier)

RING = 9  # the ring's width at the pooled map's own resolution (odd), as benchmarks/verdict_cues.py


class TimmFeatures(nn.Module):
    """timm's ``features_only`` model as a five-map encoder; ``weights`` by position into the full model first."""

    def __init__(self, arch: str, weights: str | None) -> None:
        super().__init__()
        import timm

        full = timm.create_model(arch, pretrained=False)
        if weights is not None:
            state, own = load_state_dict_file(weights), full.state_dict()
            pairs = zip(state.values(), own.values())
            if len(state) != len(own) or any(a.shape != b.shape for a, b in pairs):
                raise ValueError(f"{weights}: {len(state)} tensors do not line up with {arch}'s {len(own)}")
            full.load_state_dict(dict(zip(own, state.values())))
        self.body = timm.create_model(arch, pretrained=False, features_only=True)
        missing, _ = self.body.load_state_dict(full.state_dict(), strict=False)
        if missing:
            raise ValueError(f"{arch}: feature model keys missing from the full model: {missing[:3]}")

    def forward(self, x: Tensor) -> list[Tensor]:
        return self.body(x)


def build_encoder(spec: str, seed: int = 0) -> nn.Module:
    """An encoder from ``default`` or ``ARCH=WEIGHTS`` / ``ARCH=random`` (see the module doc)."""
    if spec == "default":
        from inharmony.checkpoint import load_model
        from inharmony.inference.predictor import resolve_model_path

        return load_model(resolve_model_path("default", "torch")).float().encoder
    arch, _, weights = spec.partition("=")
    if not weights:
        raise ValueError(f"encoder {spec!r}: expected 'default' or ARCH=WEIGHTS (a file, or 'random')")
    torch.manual_seed(seed)
    weights = None if weights == "random" else weights
    if arch == "mobilenetv2":
        return MobileNetV2Encoder(weights=weights)
    if arch == "efficientnet_lite0":
        return TimmFeatures(arch, weights)
    raise ValueError(f"encoder {spec!r}: unknown ARCH {arch!r} (mobilenetv2, efficientnet_lite0)")


def masked(m: Tensor, weight: Tensor) -> Tensor:
    """B×C×h×w maps averaged under B×1×h×w ``weight`` → B×C (1e-4 keeps an empty ring finite)."""
    return (m * weight).sum(dim=(2, 3)) / (weight.sum(dim=(2, 3)) + 1e-4)


def pooled(maps: list[Tensor], region: Tensor) -> list[np.ndarray]:
    """Per map: [inside, outside, inside − outside, inside − ring] channel means under B×1×H×W ``region``."""
    out = []
    for m in maps:
        inside = F.interpolate(region, size=m.shape[-2:], mode="bilinear", align_corners=False)
        ring = (F.max_pool2d(inside, RING, stride=1, padding=RING // 2) - inside).clamp_min(0.0)
        a, b, r = masked(m, inside), masked(m, 1.0 - inside), masked(m, ring)
        out.append(torch.cat([a, b, a - b, a - r], dim=1)[0].numpy())
    return out


def cv_auroc(features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
    """AUROC of scores from boosted trees that never saw the sample's photo (grouped folds)."""
    return round(float(roc_auc_score(labels, scores_cv(features, labels, groups, "boosted"))), 3)


def probe(encoder: nn.Module, rows: list[dict], root: Path, size: int) -> dict[str, float]:
    """Per-stage and all-stage AUROC of composites against their twins for one encoder at one size."""
    group = photo_groups(rows)
    stages: list[list[np.ndarray]] = []
    labels, groups = [], []
    with torch.no_grad():
        for i, row in enumerate(rows):
            truth = torch.from_numpy(read_square(root / row["mask"], size, mask=True)).float()[None, None]
            for path, label in ((row["composite"], 1), (row["real"], 0)):
                stages.append(pooled(encoder(normalize(to_tensor(read_square(root / path, size)))[None]), truth))
                labels.append(label)
                groups.append(group[i])
    labels, groups = np.array(labels), np.array(groups)
    result = {f"stage {s + 1}": cv_auroc(np.array([f[s] for f in stages]), labels, groups) for s in range(5)}
    result["all stages"] = cv_auroc(np.array([np.concatenate(f) for f in stages]), labels, groups)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="a synthetic set with twins (inharmony data synth)")
    parser.add_argument("--split", choices=("all", "train", "test"), default="test")
    parser.add_argument("--encoder", action="append", required=True, help="default | ARCH=WEIGHTS | ARCH=random")
    parser.add_argument("--size", type=int, action="append", help="input size(s); default 160")
    parser.add_argument("--limit", type=int, default=0, help="use the first N pairs only (0: all)")
    parser.add_argument("--out", default="benchmarks/results/encoder_probe.json")
    args = parser.parse_args()
    root = Path(args.data)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"encoder_probe: {manifest} not found (write the set with 'inharmony data synth')")
    rows = [r for r in csv.DictReader(open(manifest, newline="")) if args.split == "all" or r["split"] == args.split]
    rows = [r for r in rows if r.get("kind") != "paste"][: args.limit or None]  # in place: the twin is the photo
    torch.set_grad_enabled(False)
    results = {"data": str(root), "split": args.split, "pairs": len(rows), "probes": []}
    for spec in args.encoder:
        encoder = build_encoder(spec).eval()
        for size in args.size or [160]:
            figures = probe(encoder, rows, root, size)
            results["probes"].append({"encoder": spec.split("/")[-1], "size": size, **figures})
            print(json.dumps(results["probes"][-1]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(out)


if __name__ == "__main__":
    main()
