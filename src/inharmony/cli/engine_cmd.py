"""``inharmony train | evaluate | predict | models``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from inharmony.cli.progress import progress

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model from a YAML config (flags override it)")
    p.add_argument("--config", help="YAML config (see configs/); defaults are the paper's recipe")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set train.lr=5e-5 (repeatable)",
    )
    p.add_argument("--model", help="model name (model.name)")
    p.add_argument("--root", help="dataset root in the iHarmony4 layout (data.root)")
    p.add_argument("--photos", help="photo folder for on-the-fly synthetic data (data.photos)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", help="runs folder (output.dir)")
    p.add_argument("--name", help="run name (output.name)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt")
    p.set_defaults(handler=run_train)

    p = sub.add_parser(
        "consistency",
        help="train the self-supervised colour-consistency embedding on authentic photos (model consistency_patches)",
    )
    p.add_argument("--photos", required=True, help="folder of authentic photos (their training split is used)")
    p.add_argument("--out", required=True, help="folder for last/best.safetensors and metrics.jsonl")
    p.add_argument("--minutes", type=float, required=True, help="time budget of this call")
    p.add_argument("--init", help="continue from this consistency_patches model file")
    p.add_argument("--batch-size", type=int, default=128, help="patch pairs per step")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="data loader processes")
    p.add_argument("--val-every", type=int, default=200, help="validate and save every N steps")
    p.add_argument("--max-steps", type=int, help="stop after N steps (smoke tests)")
    p.add_argument("--smooth", type=int, default=0, help="odd box blur of a new model's input: colour only (0: none)")
    p.set_defaults(handler=run_consistency)

    p = sub.add_parser(
        "evaluate",
        help="models × sets in one table: published and plain protocols, authentic photos, region-swap probe",
        description="Evaluate one or more models on one or more sets. A set is NAME=SPEC: a CSV manifest "
        "(its 'real' images join as authentic photos), an iHarmony4-layout ROOT[:LIST] (test split), "
        "swap:FOLDER (region-swap probe from FOLDER's held-out photos), cutout:FOLDER,CUTOUTS (RGBA cut-outs "
        "pasted into them through their own mattes; cutout_harmonised: the same, harmonised; cutout_matched: "
        "the cut-out of 12 whose mean colour suits the photo; ',every' after CUTOUTS: every photo of FOLDER), "
        "authentic:FOLDER, "
        "heldout:FOLDER "
        "or authentic:skimage (photos with no edit).",
    )
    p.add_argument(
        "--model",
        dest="models",
        action="append",
        default=[],
        help="model file, shipped name or reference_* (repeatable; default: the shipped default)",
    )
    p.add_argument("--data", action="append", default=[], metavar="NAME=SPEC", help="an evaluation set (repeatable)")
    p.add_argument("--root", help="shorthand for --data NAME=ROOT (iHarmony4 layout, test split or --list)")
    p.add_argument("--list", dest="list_file", help="root-relative list file for --root (e.g. le50_test.txt)")
    p.add_argument("--manifest", help="shorthand for --data NAME=MANIFEST.csv")
    p.add_argument("--group-by", default="source", help="manifest column to report groups by (default: source)")
    p.add_argument("--size", type=int, help="network resolution (default: each model's training size)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto", help="see 'predict --help'")
    p.add_argument("--swap-n", type=int, default=100, help="region-swap composites to make per swap set")
    p.add_argument("--seed", type=int, default=0, help="seed of the region-swap probe")
    p.add_argument("--no-groups", action="store_true", help="table with each set's overall row only")
    p.add_argument("--out", help="folder for results.json and results.md (and per_image.csv)")
    p.add_argument("--per-image", action="store_true", help="also write per_image.csv")
    p.set_defaults(handler=run_evaluate)

    p = sub.add_parser("predict", help="masks, overlays and heatmaps for images, folders or globs")
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--model", default="default", help="model file or shipped model name")
    p.add_argument("--out", default="predictions", help="output folder")
    p.add_argument(
        "--save",
        default="mask,overlay,heatmap,candidate",
        help="comma list of mask, overlay, heatmap, prob, candidate (a verdict model's heatmap of where the region "
        "would be if the image has one, whatever its verdict; nothing for other models)",
    )
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="decoding threads (0: decode in the main thread)")
    p.add_argument("--device", default="auto")
    p.add_argument("--max-pixels", type=int, help="refuse larger images (default 100 M pixels)")
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx"],
        default="auto",
        help="auto: shipped models on ONNX Runtime (fast start, no torch), files by their suffix",
    )
    p.add_argument("--json", action="store_true", help="also print one JSON line per image (verdict, score, box)")
    p.add_argument(
        "--sort",
        choices=["score", "name", "input"],
        default="score",
        help="order of summary.csv: most suspect first (default), by file name, or as given",
    )
    p.add_argument("--threads", type=int, help="CPU threads for the network (default: all cores)")
    p.add_argument("--half", action="store_true", help="float16 inference (CUDA only)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory layout")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.set_defaults(handler=run_predict)

    p = sub.add_parser("serve", help="local web app and REST API (FastAPI on uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="serve this model file too (repeatable); the first one becomes the default",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--max-upload-mb", type=float, default=20.0)
    p.add_argument("--max-pixels", type=int, default=40_000_000)
    p.add_argument("--max-concurrency", type=int, default=2, help="inferences running at once")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per inference before a 504")
    p.set_defaults(handler=run_serve)

    p = sub.add_parser("export", help="export a model to ONNX (dynamic batch) for ONNX Runtime")
    p.add_argument("--model", default="default", help="model file or shipped model name")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--size", type=int, help="input size (default: the model's training size)")
    p.add_argument("--out", required=True, help="file to write (.onnx)")
    p.add_argument("--check", action="store_true", help="compare ONNX Runtime with torch on random inputs")
    p.add_argument(
        "--fp16-weights",
        action="store_true",
        help="store the weights at half precision (half the file; computed in float32, answers within ~1e-2)",
    )
    p.set_defaults(handler=run_export)

    p = sub.add_parser(
        "calibrate",
        help="fit the image score's calibration (Platt scaling) and write it into a copy of a model file",
        description="Score composites and authentic photos kept apart from every test set (by default the train "
        "rows of manifests, e.g. 'inharmony data synth' with its authentic twins), fit Platt scaling of the raw "
        "score and write a copy of the model file that carries it: its score becomes a probability for a share "
        "--prior of composites, and the default threshold 0.5 sits where both are then equally likely. "
        "The weights do not change; re-export ONNX from the calibrated file.",
    )
    p.add_argument("--model", required=True, help="model file (.safetensors) or shipped model name")
    p.add_argument("--data", action="append", required=True, metavar="NAME=SPEC", help="as 'evaluate' (repeatable)")
    p.add_argument("--split", default="train", help="rows of a manifest with a split column to use (default: train)")
    p.add_argument(
        "--prior", type=float, default=0.5, help="share of composites the probability is for (default 0.5: even)"
    )
    p.add_argument("--group-by", default="source", help="manifest column of groups (unused by the fit)")
    p.add_argument("--size", type=int, help="network resolution (default: the model's training size)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, help="model file to write (.safetensors; may be --model itself)")
    p.set_defaults(handler=run_calibrate)

    p = sub.add_parser("compare", help="train models under one budget, evaluate alike, write table + figure")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--root", required=True, help="dataset root (iHarmony4 layout): train split to train, test to test")
    p.add_argument("--steps", type=int, required=True, help="optimiser steps per model (the shared budget)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--figure-images", type=int, default=6)
    p.add_argument(
        "--seed", type=int, default=0, help="training seed of every model (run again with another to see the spread)"
    )
    p.add_argument("--test-list", help="root-relative test list (e.g. le50_test.txt); default: the test split")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=run_compare)

    p = sub.add_parser("visualize-attention", help="render an image's prediction and its five MDA attention maps")
    p.add_argument("image")
    p.add_argument("--model", default="default")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(handler=run_visualize)

    p = sub.add_parser("models", help="list model architectures and shipped models")
    p.set_defaults(handler=run_models)


def run_consistency(args: argparse.Namespace) -> int:
    from inharmony.engine.consistency import train_consistency

    if args.minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {args.minutes}")
    record = train_consistency(
        args.photos,
        args.out,
        minutes=args.minutes,
        init=args.init,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        workers=args.workers,
        val_every=args.val_every,
        max_steps=args.max_steps,
        smooth=args.smooth,
    )
    print(json.dumps(record, sort_keys=True))
    return 0


def run_train(args: argparse.Namespace) -> int:
    from inharmony.engine import distributed
    from inharmony.engine.config import load_config, new_run_dir, save_config
    from inharmony.engine.trainer import Trainer

    flags = {
        "model.name": args.model,
        "data.root": args.root,
        "data.photos": args.photos,
        "train.epochs": args.epochs,
        "train.batch_size": args.batch_size,
        "train.max_steps": args.max_steps,
        "train.device": args.device,
        "output.dir": args.out,
        "output.name": args.name,
    }
    overrides = list(args.overrides) + [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]
    if args.photos and not any(o.startswith("data.kind") for o in overrides):
        overrides.append("data.kind=synthetic")
    cfg = load_config(Path(args.resume) / "config.yaml" if args.resume else args.config, overrides)
    info, _ = distributed.setup(cfg["train"]["device"])  # under torchrun: join the group first
    if args.resume:
        run_dir = Path(args.resume)
    else:
        run_dir = new_run_dir(cfg["output"]["dir"], cfg["output"]["name"]) if info.is_main else None
        run_dir = Path(distributed.broadcast_object(info, str(run_dir) if run_dir else None))
    if info.is_main:
        save_config(cfg, run_dir / "config.yaml")
    trainer = Trainer(cfg, run_dir)
    summary = trainer.fit(resume=bool(args.resume))
    if info.is_main:
        result = {"run_dir": str(run_dir), "val": summary, "best": str(run_dir / "best.safetensors")}
        result["skipped"] = trainer.skipped  # unreadable samples (name → error), each replaced by the next one
        print(json.dumps(result))
    distributed.teardown(info)
    return 0


def model_labels(sources: list[str]) -> list[str]:
    """Short, distinct table labels: shipped and reference names as they are, files by stem (with as many parent
    folders as it takes to tell them apart, e.g. ``ft_old/version_0/best`` beside ``ft_new/version_0/best``)."""
    paths = [Path(s) for s in sources]
    depth = [1 if p.stem in ("best", "last") else 0 for p in paths]

    def label(i: int) -> str:
        p = paths[i]
        if not p.suffix:
            return sources[i]
        return "/".join([*p.parent.parts[len(p.parent.parts) - depth[i] :], p.stem]) if depth[i] else p.stem

    for _ in range(max((len(p.parts) for p in paths), default=0)):
        labels = [label(i) for i in range(len(paths))]
        clashes = {x for x in labels if labels.count(x) > 1}
        if not clashes:
            return labels
        depth = [d + 1 if labels[i] in clashes and d < len(paths[i].parent.parts) else d for i, d in enumerate(depth)]
    return [label(i) for i in range(len(paths))]


def run_evaluate(args: argparse.Namespace) -> int:
    from inharmony.engine.report import EvalSet, evaluate_sets, markdown, parse_set, summarise, write_rows
    from inharmony.fileio import write_text_atomic
    from inharmony.inference import Predictor

    specs = list(args.data)
    if args.root:
        specs.append(f"{Path(args.root).name or 'root'}={args.root}" + (f":{args.list_file}" if args.list_file else ""))
    if args.manifest:
        specs.append(f"{Path(args.manifest).parent.name or 'manifest'}={args.manifest}")
    if not specs:
        raise ValueError("nothing to evaluate on: give --data NAME=SPEC, --root or --manifest")
    sets: list[EvalSet] = [parse_set(s, args.group_by, args.swap_n, args.seed) for s in specs]
    for eval_set in sets:
        if not eval_set.items:
            raise ValueError(f"set {eval_set.name!r} has no images")
    rows, sizes = [], {}
    sources = args.models or ["default"]
    for source, label in zip(sources, model_labels(sources)):
        predictor = Predictor.from_checkpoint(source, device=args.device, size=args.size, backend=args.backend)
        sizes[label] = predictor.size
        rows += evaluate_sets(predictor, label, sets, args.batch_size, progress=progress)
    summary = summarise(rows)
    table = markdown(summary, groups=not args.no_groups)
    print(table)
    errors = [r for r in rows if "error" in r]
    for r in errors:
        print(f"skipped {r['set']}/{r['name']}: {r['error']}", file=sys.stderr)
    if args.out:
        out = Path(args.out)
        meta = {
            "models": args.models or ["default"],
            "sizes": sizes,
            "sets": specs,
            "group_by": args.group_by,
            "swap_n": args.swap_n,
            "seed": args.seed,
            "skipped": len(errors),
        }
        write_text_atomic(out / "results.json", json.dumps({"meta": meta, "summary": summary}, indent=2))
        write_text_atomic(out / "results.md", table)
        if args.per_image:
            write_rows(out / "per_image.csv", rows)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    import csv
    import time
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from PIL import Image

    from inharmony.fileio import atomic_path
    from inharmony.inference.batch import expand_inputs, iter_batches, output_stems
    from inharmony.inference.predictor import Predictor
    from inharmony.viz import heatmap, overlay

    wanted = {s.strip() for s in args.save.split(",") if s.strip()}
    unknown = wanted - {"mask", "overlay", "heatmap", "prob", "candidate"}
    if unknown:
        raise ValueError(f"--save: unknown output(s) {sorted(unknown)}; valid: mask, overlay, heatmap, prob, candidate")
    kwargs = {"max_pixels": args.max_pixels} if args.max_pixels else {}
    kwargs.update(half=args.half, channels_last=args.channels_last, compile=args.compile, threads=args.threads)
    predictor = Predictor.from_checkpoint(args.model, device=args.device, backend=args.backend, **kwargs)
    files, failures = expand_inputs(args.inputs)
    stems = dict(zip(map(str, files), output_stems(files)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    batches = iter_batches(files, predictor, args.batch_size, args.workers, keep_image="overlay" in wanted)

    def save(path: Path, array, fmt: str) -> None:
        with atomic_path(path) as tmp:
            Image.fromarray(array).save(tmp, format=fmt, **({"compress_level": 1} if fmt == "PNG" else {"quality": 90}))

    writers, pending, written, table = ThreadPoolExecutor(max_workers=2), [], [], []

    def write_outputs(stem, record, pred) -> None:
        if "mask" in wanted:  # 1-bit PNG from packed bits: ~3× faster to write than 8-bit, same pixels
            h, w = pred.probability.shape
            region = pred.mask(args.threshold) > 0
            bits = np.packbits(region, axis=1).tobytes()
            with atomic_path(out / f"{stem}_mask.png") as tmp:
                Image.frombytes("1", (w, h), bits).save(tmp, format="PNG", compress_level=1)
        if "prob" in wanted:
            save(out / f"{stem}_prob.png", (pred.probability * 255).round().astype("uint8"), "PNG")
        if "heatmap" in wanted:
            save(out / f"{stem}_heatmap.png", heatmap(pred.probability), "PNG")
        if "overlay" in wanted:
            tinted = overlay(record["image"], pred.probability, pred.pixel_threshold(args.threshold))
            save(out / f"{stem}_overlay.jpg", tinted, "JPEG")
        if "candidate" in wanted and pred.candidate is not None:
            save(out / f"{stem}_candidate.png", heatmap(pred.candidate), "PNG")
        written.append(True)

    def summary_row(path, pred=None, error=None, ms=None) -> dict:
        row = {
            "file": str(path),
            "inharmonious": "",
            "score": "",
            "raw_score": "",
            "region_fraction": "",
            "bbox": "",
            "width": "",
            "height": "",
            "ms": "",
            "error": error or "",
        }
        if pred is not None:
            s = pred.summary(args.threshold)
            box = " ".join(map(str, s["bbox"])) if s["bbox"] else ""
            row.update(
                inharmonious=int(s["inharmonious"]),
                score=f"{s['score']:.4f}",
                raw_score=f"{s['raw_score']:.4f}",
                bbox=box,
                width=s["width"],
                height=s["height"],
                region_fraction=f"{s['region_fraction']:.5f}",
                ms=f"{ms:.1f}",
            )
        return row

    n_batches = (len(files) + args.batch_size - 1) // args.batch_size
    for records in progress(batches, desc="predict", total=n_batches):
        good = [r for r in records if r["error"] is None]
        failures.extend((r["path"], r["error"]) for r in records if r["error"] is not None)
        table.extend(summary_row(r["path"], error=r["error"]) for r in records if r["error"] is not None)
        if not good:
            continue
        start = time.perf_counter()
        preds = predictor.predict_batch(np.stack([r["array"] for r in good]), [r["size"] for r in good])
        ms = 1000 * (time.perf_counter() - start) / len(good)
        rows = [summary_row(r["path"], pred, ms=ms) for r, pred in zip(good, preds)]
        table.extend(rows)
        if args.json:
            for row in rows:
                print(json.dumps({k: v for k, v in row.items() if k != "error"}), flush=True)
        for record, pred in zip(good, preds):  # encode and write in threads while the next batch runs
            pending.append(writers.submit(write_outputs, stems[record["path"]], record, pred))
        pending = [f for f in pending if not f.done() or f.result()]  # drop finished ones, surface errors
    for future in pending:
        future.result()
    writers.shutdown()
    done = len(written)
    listed = {r["file"] for r in table}
    table.extend(summary_row(path, error=error) for path, error in failures if str(path) not in listed)
    if args.sort == "score":  # most suspect first, failures last
        table.sort(key=lambda r: (r["score"] == "", -(float(r["score"]) if r["score"] != "" else 0)))
    elif args.sort == "name":
        table.sort(key=lambda r: r["file"])
    with atomic_path(out / "summary.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(summary_row("x")))
        writer.writeheader()
        writer.writerows(table)
    found = sum(r["inharmonious"] == 1 for r in table)
    print(f"{done} image(s) written to {out}; {found} with an inharmonious region (see summary.csv)")
    for path, error in failures:
        print(f"failed: {path}: {error}", file=sys.stderr)
    return 1 if failures else 0


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from inharmony.web.app import create_app
    except ImportError as exc:
        raise ValueError(f"the web app needs its extra: pip install 'inharmony[web]' ({exc})") from exc
    from inharmony.inference.predictor import shipped_models

    models = {k: k for k in shipped_models()}  # by name: Predictor picks ONNX Runtime when the graph ships
    default = "default" if "default" in models else None
    for i, item in enumerate(args.model):
        name, _, path = item.rpartition("=")
        name = name or Path(path).stem
        if not Path(path).is_file():
            raise FileNotFoundError(f"--model {item}: file not found")
        models[name] = path
        default = default if i else name
    app = create_app(
        models,
        default=default,
        device=args.device,
        max_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_pixels=args.max_pixels,
        max_concurrency=args.max_concurrency,
        timeout_s=args.timeout,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from inharmony.engine.calibrate import fit_on_sets, write_calibrated
    from inharmony.engine.report import parse_set
    from inharmony.inference import Predictor
    from inharmony.inference.predictor import resolve_model_path

    source = resolve_model_path(args.model)
    if source.suffix != ".safetensors" or not str(args.out).endswith(".safetensors"):
        raise ValueError(f"calibrate reads and writes .safetensors model files, got {source} → {args.out}")
    sets = [parse_set(s, args.group_by, split=args.split) for s in args.data]
    for eval_set in sets:
        if not eval_set.items:
            raise ValueError(f"set {eval_set.name!r} has no images (split {args.split!r})")
    predictor = Predictor.from_checkpoint(source, device=args.device, size=args.size, backend="torch")
    fit_on = "; ".join(args.data) + f" ({args.split} rows)"
    calibration, report = fit_on_sets(predictor, sets, args.batch_size, progress, args.prior, fit_on)
    path = write_calibrated(source, args.out, calibration, report)
    print(
        f"fitted on {report['n_composites']} composites and {report['n_authentic']} authentic photos "
        f"for a share {args.prior:g} of composites "
        f"(AUROC {report['auroc']:.3f}): score = {calibration.formula()}; "
        f"threshold 0.5 ↔ raw {report['raw_threshold']:.4f}"
    )
    print("| on the fit set | raw | calibrated |\n|---|---:|---:|")
    for key in ("detected", "false_alarm", "brier"):
        pct = key != "brier"
        raw, cal = report[key]["raw"], report[key]["calibrated"]
        cells = [f"{100 * v:.1f} %" if pct else f"{v:.4f}" for v in (raw, cal)]
        print(f"| {key.replace('_', ' ')} | {cells[0]} | {cells[1]} |")
    print(f"wrote {path}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    import torch

    from inharmony.checkpoint import load_model
    from inharmony.export import OnnxModule, export_onnx
    from inharmony.inference.predictor import resolve_model_path

    model = load_model(resolve_model_path(args.model))
    size = args.size or int(getattr(model, "model_info", {}).get("size", 256))
    path = export_onnx(model, args.out, size=size, fp16_weights=args.fp16_weights)
    stored = "half-precision weights, " if args.fp16_weights else ""
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {stored}input {size}×{size}, dynamic batch)")
    if args.check:
        x = torch.randn(2, 3, size, size)
        with torch.inference_mode():
            want = torch.sigmoid(model(x)["logits"])
        got = torch.sigmoid(OnnxModule(path)(x)["logits"])
        diff = float((want - got).abs().max())
        print(f"max |Δ probability| torch vs ONNX Runtime: {diff:.2e}")
        limit = 2e-2 if args.fp16_weights else 1e-3
        if diff > limit:
            raise ValueError(f"ONNX output differs from torch by {diff:.2e} (> {limit:g})")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from inharmony.engine.compare import compare, comparison_markdown

    result = compare(
        args.models,
        args.root,
        args.out,
        args.steps,
        args.size,
        args.batch_size,
        args.overrides,
        args.figure_images,
        seed=args.seed,
        test_list=args.test_list,
    )
    print(comparison_markdown(result))
    return 0


def run_visualize(args: argparse.Namespace) -> int:
    import numpy as np

    from inharmony.inference import Predictor
    from inharmony.viz import grid, heatmap, overlay

    predictor = Predictor.from_checkpoint(args.model)
    image = np.asarray(predictor.load(args.image))
    pred = predictor.predict(image, attention=True)
    if not pred.attention:
        raise ValueError(f"model {args.model} has no attention maps (only DIRL models with MDA do)")
    blend = [(0.5 * image + 0.5 * heatmap(a)).astype(np.uint8) for a in pred.attention]
    labels = ["image", "prediction", *[f"MDA A{k}" for k in range(len(blend))]]
    grid([[image, overlay(image, pred.probability), *blend]], labels, cell=200).save(args.out)
    print(args.out)
    return 0


def run_models(args: argparse.Namespace) -> int:
    from inharmony.checkpoint import read_model_file
    from inharmony.inference.predictor import shipped_models
    from inharmony.models import describe_model, list_models
    from inharmony.verdict import Calibration

    print("architectures:")
    for name in list_models():
        print(f"  {name:20s} {describe_model(name)}")
    shipped = shipped_models()
    print("shipped models:" if shipped else "shipped models: none")
    for name, path in shipped.items():
        meta, _ = read_model_file(path)
        scores = meta["info"].get("scores", {})
        size_mb = path.stat().st_size / 1e6
        print(f"  {name:20s} {meta['model_name']}  {size_mb:.1f} MB  {json.dumps(scores)}")
        cal = meta["info"].get("calibration")
        if cal:
            print(
                f"  {'':20s} calibrated score: {Calibration.from_info(meta['info']).formula()}, "
                f"for a share {cal.get('prior', 0.5):g} of composites, fitted on {cal.get('fit_on', '?')}"
            )
    return 0
