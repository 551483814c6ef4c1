"""Load test of `inharmony serve` on loopback: N requests, C concurrent, bounded in time; saves JSON.

Usage: python benchmarks/load_web.py [--requests 500] [--concurrency 16] [--model default] [--time-limit 600]

Starts the app on 127.0.0.1 (a free port) in this process, sends real HTTP requests with httpx from a
thread pool, and reports status counts, p50/p95/max latency and throughput. Traffic goes to loopback only.
"""

import argparse
import concurrent.futures as cf
import io
import json
import socket
import threading
import time

import httpx
import numpy as np
import uvicorn
from PIL import Image

from inharmony.fileio import write_text_atomic
from inharmony.web.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--model", default="default")
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], help="uploaded image width height")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--out", default="benchmarks/results/load_web.json")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from inharmony.inference.predictor import resolve_model_path

    app = create_app({"m": str(resolve_model_path(args.model))}, device="cpu", max_concurrency=2)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    w, h = args.size
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG")
    body = buf.getvalue()
    deadline = time.perf_counter() + args.time_limit
    url = f"http://127.0.0.1:{port}/v1/localize"

    def one(i: int):
        if time.perf_counter() > deadline:
            return "skipped", 0.0
        start = time.perf_counter()
        try:
            r = httpx.post(
                url,
                files={"image": (f"{i}.jpg", body, "image/jpeg")},
                data={"attention": "false"},
                timeout=max(1.0, deadline - start),
            )
            return r.status_code, time.perf_counter() - start
        except httpx.HTTPError as exc:
            return type(exc).__name__, time.perf_counter() - start

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(one, range(args.requests)))
    wall = time.perf_counter() - start
    server.should_exit = True
    lat = np.array([t for c, t in results if c == 200])
    counts: dict[str, int] = {}
    for c, _ in results:
        counts[str(c)] = counts.get(str(c), 0) + 1
    report = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "image": f"{w}x{h} JPEG",
        "status": counts,
        "server_errors_5xx": sum(v for k, v in counts.items() if k.isdigit() and k.startswith("5")),
        "p50_ms": round(float(np.percentile(lat, 50)) * 1000, 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)) * 1000, 1) if len(lat) else None,
        "max_ms": round(float(lat.max()) * 1000, 1) if len(lat) else None,
        "throughput_req_s": round(len(lat) / wall, 2),
        "wall_s": round(wall, 1),
        "command": "python benchmarks/load_web.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "size")),
    }
    print(json.dumps(report))
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
