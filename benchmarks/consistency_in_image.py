"""Does a consistency_patches model tell a composite's region from its background, inside one image?

Its training only measures patch pairs of *different* windows of held-out photos; this asks what a localiser
needs: on composites with masks (a manifest folder: ``composite,mask,split`` rows, the test split), the mean
"processed differently" probability of region–background pairs of 32-px patches against background–background
and region–region pairs, and in how many composites the region's patches are on average less consistent with the
whole image than the background's (all N cells against all N cells, no reference weighting).

    S=runs/consistency_s5_smooth/steps
    python benchmarks/consistency_in_image.py --root data/synth_v2_paste $S/step_000400.safetensors \
        $S/step_001600.safetensors
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inharmony.checkpoint import load_model
from inharmony.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from inharmony.fileio import atomic_path
from inharmony.layers.consistency import STRIDE, patch_embeddings

SIZE = 256


def load(root: Path, row: dict) -> tuple[torch.Tensor, np.ndarray]:
    img = Image.open(root / row["composite"]).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    cells = SIZE // STRIDE
    mask = Image.open(root / row["mask"]).convert("L").resize((cells, cells), Image.BILINEAR)
    x = (np.asarray(img, np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(x.transpose(2, 0, 1).astype(np.float32))[None], np.asarray(mask).ravel() > 127


@torch.no_grad()
def measure(model_path: Path, items: list[tuple[torch.Tensor, np.ndarray]]) -> dict:
    model = load_model(model_path)
    pairs, region_less_consistent = [], 0
    for x, inside in items:
        e = patch_embeddings(model.embedder, x)[0].flatten(1).T  # N×d
        p = torch.sigmoid(model.head(e[:, None], e[None])).numpy()
        pairs.append((p[inside][:, ~inside].mean(), p[~inside][:, ~inside].mean(), p[inside][:, inside].mean()))
        row_mean = p.mean(1)
        region_less_consistent += int(row_mean[inside].mean() > row_mean[~inside].mean())
    means = np.mean(pairs, axis=0)
    return {
        "model": str(model_path),
        "samples": getattr(model, "model_info", {}).get("samples"),
        "composites": len(items),
        "region_less_consistent": region_less_consistent,
        "p_region_background": round(float(means[0]), 3),
        "p_background_background": round(float(means[1]), 3),
        "p_region_region": round(float(means[2]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="consistency_patches model files")
    parser.add_argument("--root", type=Path, required=True, help="folder with manifest.csv (synthetic test set)")
    parser.add_argument("--n", type=int, default=40, help="first N test composites")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/consistency_in_image.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.root / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("split", "test") == "test"][: args.n]
    items = [load(args.root, r) for r in rows]
    items = [(x, m) for x, m in items if m.any() and (~m).any()]
    results = [measure(m, items) for m in args.models]
    for r in results:
        print(json.dumps(r))
    old = json.loads(args.out.read_text()) if args.out.is_file() else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(old + [{"root": str(args.root), **r} for r in results], indent=1) + "\n")


if __name__ == "__main__":
    main()
