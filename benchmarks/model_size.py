"""Parameters and FLOPs (2 × multiply-accumulate, torch's FlopCounterMode) of every learned model (an ensemble
costs the sum of its members').

Usage: python benchmarks/model_size.py [--size 256] [--out benchmarks/results/model_size.json]
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from inharmony.fileio import write_text_atomic
from inharmony.models import create_model, standalone_models


def measure(name: str, size: int) -> dict:
    model = create_model(name).eval()
    params = sum(p.numel() for p in model.parameters())
    enc = getattr(model, "encoder", None)
    encoder = sum(p.numel() for p in enc.parameters()) if enc is not None else None
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, size, size))
    return {
        "model": name,
        "params_M": round(params / 1e6, 3),
        "encoder_params_M": round(encoder / 1e6, 3) if encoder is not None else None,
        f"GFLOPs@{size}": round(counter.get_total_flops() / 1e9, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results/model_size.json")
    args = parser.parse_args()
    rows = [measure(n, args.size) for n in standalone_models() if not n.startswith("reference_")]
    for row in rows:
        print(json.dumps(row))
    write_text_atomic(
        Path(args.out),
        json.dumps({"torch": torch.__version__, "machine": platform.machine(), "results": rows}, indent=2) + "\n",
    )


if __name__ == "__main__":
    main()
