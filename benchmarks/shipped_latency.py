"""Latency of the shipped default model as users run it: its ONNX graph on ONNX Runtime (2 threads), one
256×256 photo per call, preprocessing included (resize to the model's input size) and the mask; median of N.

    python benchmarks/shipped_latency.py [--repeats 30] [--out benchmarks/results/shipped_latency.json]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from inharmony.inference import Predictor
from inharmony.inference.onnx_session import OnnxSession
from inharmony.inference.predictor import resolve_model_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/shipped_latency.json")
    args = parser.parse_args()
    session = OnnxSession(resolve_model_path("default", "onnx"), threads=args.threads)
    predictor = Predictor(session, size=session.input_size, device="cpu")
    image = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    for _ in range(3):
        predictor.predict(image)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        predictor.predict(image).mask()
        times.append(1000 * (time.perf_counter() - start))
    row = {
        "model": "default",
        "backend": predictor.backend,
        "network_size": predictor.size,
        "threads": args.threads,
        "image": "256x256",
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(sorted(times)[int(0.9 * len(times))], 1),
        "repeats": args.repeats,
    }
    Path(args.out).write_text(json.dumps(row, indent=1) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
