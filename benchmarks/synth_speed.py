"""Samples per second of the on-the-fly generator (composites + authentic twins) on one core.

Usage: python benchmarks/synth_speed.py [--photos ../shared/photos] [--size 256] [--n 400]
           [--out benchmarks/results/synth_speed.json]

"cold": the first pass, photos decoded on first use (as at the start of a run); "warm": the same pass again, every
photo already decoded (the steady state of a long run, where each worker has seen the corpus); the composites are
made anew either way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from inharmony.data.synth.stream import build_synthetic
from inharmony.fileio import write_text_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", default="../shared/photos")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--n", type=int, default=400, help="samples per pass (half composites, half twins)")
    parser.add_argument("--out", default="benchmarks/results/synth_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, _ = build_synthetic(args.photos, args.n, 2, args.size, seed=0)
    rates = {}
    for label in ("cold", "warm"):
        start = time.perf_counter()
        for i in range(len(train)):
            train[i]
        rates[label] = round(len(train) / (time.perf_counter() - start), 1)
    result = {
        "samples_per_s_one_core": rates,
        "size": args.size,
        "samples": len(train),
        "photos": len(train.photos),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    print(json.dumps(result, indent=2))
    write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
