"""How far fine-tuned states' encoders compute from their start's (function space, not weight space).

    python benchmarks/feature_distance.py START FILE… [--photos ../shared/photos/bsds500/images] [--n 16]
        [--size 160] [--out benchmarks/results/feature_distance.json]

For each FILE (a model file of START's architecture): the encoder's five maps on the first ``n`` photos of
``--photos`` (sorted, resized to ``size``², inference mode) against START's maps of the same photos, each as the
mean squared difference relative to START's mean square: what ``train.feature_anchor`` holds down during training
(``inharmony.engine.feature_anchor``). Beside ``weight_distance.py``, it shows how much of a fine-tune's move
reaches what the decoder sees.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inharmony.checkpoint import load_model
from inharmony.data.synth.generator import list_photos
from inharmony.data.transforms import normalize, to_tensor
from inharmony.engine.feature_anchor import FeatureAnchor
from inharmony.fileio import write_text_atomic
from inharmony.imageio import read_image


def photo_batch(folder: str | Path, n: int, size: int) -> torch.Tensor:
    try:
        paths = list_photos(folder)[:n]
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None
    images = [np.asarray(read_image(p).resize((size, size), Image.BILINEAR)) for p in paths]
    return torch.stack([normalize(to_tensor(a)) for a in images])


@torch.inference_mode()
def map_distances(start: str, file: str, x: torch.Tensor) -> list[float]:
    model = load_model(start).eval()
    anchor = FeatureAnchor(model, 1.0)  # its frozen copy: START's encoder
    model.encoder.load_state_dict(load_model(file).encoder.state_dict())
    model.encoder(x)
    return [float(d) for d in anchor.distances()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("start", help="the model file the others are measured from")
    parser.add_argument("files", nargs="+", help="model files of the same architecture")
    parser.add_argument("--photos", default="../shared/photos/bsds500/images")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--out", help="write the distances as JSON")
    args = parser.parse_args()
    x = photo_batch(args.photos, args.n, args.size)
    rows = {f: map_distances(args.start, f, x) for f in args.files}
    print(f"encoder maps against {args.start}'s ({len(x)} photos, {args.size}²): mean squared difference / mean square")
    print("\n| model | map 1 | map 2 | map 3 | map 4 | map 5 | mean |\n|---|---:|---:|---:|---:|---:|---:|")
    for f, d in rows.items():
        print(f"| {f} | " + " | ".join(f"{v:.2%}" for v in d) + f" | {np.mean(d):.2%} |")
    if args.out:
        payload = {"start": args.start, "photos": args.photos, "n": len(x), "size": args.size, "distances": rows}
        write_text_atomic(args.out, json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
