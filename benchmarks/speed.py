"""Inference speed of every learned model, torch eager vs ONNX Runtime, beside smp's Unet-ResNet34.

Prints one JSON line per measurement and saves them all (with the machine) to --out.

  python benchmarks/speed.py                       # CPU, 2 threads (the project's machines)
  python benchmarks/speed.py --models dirl_mobilenetv2 --folder-images 200

Measured per model at 256×256: params, GFLOPs, latency at batch 1 (median of --repeats), throughput at batch 8,
peak resident memory of a fresh process, for torch eager and ONNX Runtime; and for the shipped model the time to
predict a folder of mixed-size photos end to end with `inharmony predict`. On a CUDA machine it adds images/s at
256² with mixed precision and training images/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from inharmony.fileio import write_text_atomic
from inharmony.models import create_model


def timeit(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


PEER = "smp_unet_resnet34"


def build(name: str) -> torch.nn.Module:
    """A registered model, or the peer: smp's Unet with a ResNet-34 encoder (random weights, same speed)."""
    if name == PEER:
        import segmentation_models_pytorch as smp

        return smp.Unet("resnet34", encoder_weights=None, classes=1)
    return create_model(name)


def cpu_measure(name: str, size: int, repeats: int, onnx_dir: Path) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    model = build(name).eval()
    row = {
        "model": name,
        "size": size,
        "threads": torch.get_num_threads(),
        "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
    }
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, size, size))
    row["GFLOPs"] = round(counter.get_total_flops() / 1e9, 2)
    x1, x8 = torch.randn(1, 3, size, size), torch.randn(8, 3, size, size)
    with torch.inference_mode():
        row["torch_ms_b1"] = round(1000 * timeit(lambda: model(x1), repeats), 1)
        row["torch_img_s_b8"] = round(8 / timeit(lambda: model(x8), max(3, repeats // 4)), 1)
    onnx_path = onnx_dir / f"{name}.onnx"
    export_for_bench(model, onnx_path, size)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    a1, a8 = x1.numpy(), x8.numpy()
    row["onnx_ms_b1"] = round(1000 * timeit(lambda: sess.run(None, {inp: a1}), repeats), 1)
    row["onnx_img_s_b8"] = round(8 / timeit(lambda: sess.run(None, {inp: a8}), max(3, repeats // 4)), 1)
    return row


def export_for_bench(model, path: Path, size: int) -> None:
    if not hasattr(model, "model_name"):  # the smp peer: plain tensor output
        batch = torch.export.Dim("batch", min=1, max=64)
        prog = torch.onnx.export(
            model,
            (torch.randn(2, 3, size, size),),
            input_names=["image"],
            dynamic_shapes={"x": {0: batch}},
            dynamo=True,
            verbose=False,
        )
        prog.save(str(path))
    else:
        from inharmony.export import export_onnx

        export_onnx(model, path, size=size)


def peak_memory_mb(name: str, size: int) -> float:
    """Peak resident memory (VmHWM) of a fresh process that builds the model and predicts one image.
    (``ru_maxrss`` would report the parent's peak: it survives fork and exec.)"""
    code = (
        "import torch, sys; sys.path.insert(0, 'benchmarks'); from speed import build;"
        f"torch.set_num_threads(2); m = build({name!r}).eval(); x = torch.randn(1, 3, {size}, {size});"
        "exec('with torch.inference_mode(): m(x)');"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(int(out.stdout.strip().splitlines()[-1]) / 1024, 1)


def make_folder(folder: Path, n: int, seed: int = 0) -> None:
    """Mixed-size JPEG photos made from the bundled scikit-image photos (320 px to 2000 px long side)."""
    from PIL import Image
    from skimage import data

    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.fromarray(sources[i % len(sources)])
        side = int(rng.integers(320, 2000))
        scale = side / max(img.size)
        img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale)))).save(
            folder / f"img_{i:03d}.jpg", quality=90
        )


def folder_measure(model: str, n: int, workers: int, batch: int, outputs: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        make_folder(folder, n)
        cmd = [
            sys.executable,
            "-m",
            "inharmony.cli.main",
            "predict",
            str(folder),
            "--model",
            model,
            "--out",
            str(Path(tmp) / "out"),
            "--workers",
            str(workers),
            "--batch-size",
            str(batch),
            "--save",
            outputs,
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
        seconds = time.perf_counter() - start
    return {
        "folder": n,
        "model": model,
        "outputs": outputs,
        "seconds": round(seconds, 2),
        "images_per_s": round(n / seconds, 2),
        "note": "process start and model load included",
    }


def gpu_measure(name: str, size: int) -> dict:
    from inharmony.losses import DIRLLoss

    model = build(name).cuda()
    x = torch.randn(32, 3, size, size, device="cuda")
    model.eval()
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        sec = timeit(lambda: (model(x), torch.cuda.synchronize()), 10)
    row = {"model": name, "gpu": torch.cuda.get_device_name(), "infer_img_s_bf16_b32": round(32 / sec, 1)}
    if name.startswith("dirl"):
        model.train()
        opt = torch.optim.Adam(model.parameters(), 1e-4)
        crit = DIRLLoss()
        xb, mb = (
            torch.randn(8, 3, size, size, device="cuda"),
            (torch.rand(8, 1, size, size, device="cuda") > 0.8).float(),
        )

        def step():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = model(xb)
            loss = crit(out, mb)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            torch.cuda.synchronize()

        row["train_img_s_bf16_b8"] = round(8 / timeit(step, 10), 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models",
        nargs="*",
        default=["dirl_mobilenetv2", "dirl_resnet34", PEER],
        help="models for the latency section (none: folder section only)",
    )
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--folder-images", type=int, default=200)
    parser.add_argument("--folder-model", default="default", help="model for the folder run (a .onnx file: ORT)")
    parser.add_argument(
        "--folder-onnx", action="store_true", help="also time the folder with the model exported to ONNX"
    )
    parser.add_argument("--out", default="benchmarks/results/speed_cpu.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            row = cpu_measure(name, args.size, args.repeats, Path(tmp))
            row["peak_rss_MB_b1"] = peak_memory_mb(name, args.size)
            rows.append(row)
            print(json.dumps(row), flush=True)
    peer = next((r for r in rows if r["model"] == PEER), None)
    if peer:
        for r in rows:
            r["torch_latency_vs_smp_unet"] = round(r["torch_ms_b1"] / peer["torch_ms_b1"], 2)
            r["onnx_latency_vs_smp_unet"] = round(r["onnx_ms_b1"] / peer["onnx_ms_b1"], 2)
    folder = []
    if args.folder_images:
        models = [args.folder_model]
        if args.folder_onnx:
            onnx_path = Path(tempfile.mkdtemp()) / "folder_model.onnx"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "inharmony.cli.main",
                    "export",
                    "--model",
                    args.folder_model,
                    "--out",
                    str(onnx_path),
                ],
                check=True,
                capture_output=True,
            )
            models.append(str(onnx_path))
        for model in models:
            for outputs in ("mask", "mask,overlay,heatmap"):
                row = folder_measure(model, args.folder_images, 2, 8, outputs)
                row["backend"] = "onnxruntime" if model.endswith(".onnx") else "torch"
                folder.append(row)
                print(json.dumps(row), flush=True)
    gpu = [gpu_measure(n, args.size) for n in args.models] if torch.cuda.is_available() else []
    for g in gpu:
        print(json.dumps(g), flush=True)
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
        },
        "cpu": rows,
        "folder": folder,
        "gpu": gpu,
        "command": "python " + " ".join(sys.argv),
    }
    write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(
        f"saved {args.out}; peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
