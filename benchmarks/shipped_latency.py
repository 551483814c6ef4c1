"""Latency of the shipped default model as users run it: its ONNX graph on ONNX Runtime (2 threads), one
256×256 photo per call, preprocessing included (resize to the model's input size) and the mask; median of N.

    python benchmarks/shipped_latency.py [--repeats 30] [--out benchmarks/results/shipped_latency.json]
    python benchmarks/shipped_latency.py --onnx CANDIDATE.onnx --out benchmarks/results/latency_CANDIDATE.json

``--onnx``: a candidate's graph (``inharmony export --model FILE --out CANDIDATE.onnx``) instead of the shipped one,
to check the ≤ 60 ms budget before shipping it.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from inharmony.fileio import write_text_atomic
from inharmony.inference import Predictor
from inharmony.inference.onnx_session import OnnxSession
from inharmony.inference.predictor import resolve_model_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--onnx", default=None, help="an exported candidate (default: the shipped model)")
    parser.add_argument("--out", default="benchmarks/results/shipped_latency.json")
    args = parser.parse_args()
    path = Path(args.onnx) if args.onnx else resolve_model_path("default", "onnx")
    session = OnnxSession(path, threads=args.threads)
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
        "model": path.name if args.onnx else "default",
        "backend": predictor.backend,
        "network_size": predictor.size,
        "threads": args.threads,
        "image": "256x256",
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(sorted(times)[int(0.9 * len(times))], 1),
        "repeats": args.repeats,
    }
    write_text_atomic(Path(args.out), json.dumps(row, indent=1) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
