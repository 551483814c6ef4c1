"""Train several models under one budget, evaluate them alike, and write the table and the qualitative figure."""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from inharmony.checkpoint import save_model
from inharmony.data.dataset import CompositeDataset
from inharmony.data.iharmony4 import make_iharmony4_dataset
from inharmony.data.transforms import denormalize
from inharmony.engine.config import load_config, save_config
from inharmony.engine.evaluate import evaluate
from inharmony.engine.trainer import Trainer
from inharmony.fileio import atomic_path, write_text_atomic
from inharmony.models.registry import model_config
from inharmony.viz import grid

log = logging.getLogger(__name__)


def model_cost(model: torch.nn.Module, size: int, repeats: int = 5) -> dict:
    model = model.eval().cpu()
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(1, 3, size, size)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    times = []
    with torch.inference_mode():
        model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return {
        "params_M": round(params / 1e6, 3),
        "GFLOPs": round(counter.get_total_flops() / 1e9, 2),
        "cpu_ms_b1": round(1000 * statistics.median(times), 1),
    }


def parse_model_spec(spec: str) -> tuple[str, list[str]]:
    """``"name"`` or ``"name@key=value,key=value"`` → (registered name, config overrides for that model only)."""
    name, _, options = spec.partition("@")
    overrides = [o for o in options.split(",") if o] if options else []
    for o in overrides:
        if "=" not in o:
            raise ValueError(f"model spec {spec!r}: expected name@key=value[,key=value], got option {o!r}")
    return name, overrides


def compare(
    models: list[str],
    root: str,
    out: str | Path,
    steps: int,
    size: int,
    batch_size: int,
    overrides: list[str] | None = None,
    figure_images: int = 6,
    seed: int = 0,
    test_list: str | None = None,
) -> dict:
    """Train each model for ``steps`` optimiser steps on ``root``'s training split, then evaluate on its test split.

    A model entry is a registered name, optionally with overrides for that run only, e.g.
    ``dirl_resnet34@loss.lambda_att=0`` (the paper's unsupervised-attention "DA" ablation); the entry is its label.
    """
    out = Path(out)
    specs = [parse_model_spec(spec) for spec in models]
    for name, _ in specs:
        model_config(name)  # an unknown name fails here, before hours of training the others
    test = CompositeDataset(make_iharmony4_dataset(root, "test", list_file=test_list), size=size)
    result = {
        "root": str(root),
        "size": size,
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "test_list": test_list,
        "overrides": overrides or [],
        "models": [],
    }
    done = _finished_rows(out, result)
    predictions = {}
    for spec, (name, own) in zip(models, specs):
        run = out / "runs" / spec.replace("@", "__").replace("=", "-").replace(",", "_")
        pred_file = out / "predictions" / f"{run.name}.npy"
        if spec in done and pred_file.is_file():
            log.info("%s: already trained and evaluated under this budget, reusing %s", spec, out / "comparison.json")
            result["models"].append(done[spec])
            predictions[spec] = np.load(pred_file)
            continue
        cfg = load_config(
            None,
            [
                f"model.name={name}",
                f"data.root={root}",
                f"data.size={size}",
                f"train.batch_size={batch_size}",
                f"train.max_steps={steps}",
                "train.epochs=100000",
                f"train.seed={seed}",
                "train.checkpoint_every=0",
                "train.validate=false",  # the test split below is the only evaluation
                *(overrides or []),
                *own,
            ],
        )
        if run.exists():
            shutil.rmtree(run)  # an interrupted earlier attempt: start this model's budget afresh
        run.mkdir(parents=True)
        save_config(cfg, run / "config.yaml")
        start = time.perf_counter()
        trainer = Trainer(cfg, run)
        trainer.fit()
        train_s = time.perf_counter() - start
        model = trainer.model.eval()
        save_model(model, out / "models" / f"{run.name}.safetensors", info={"size": size, "steps": steps})
        kept: list[np.ndarray] = []

        def keep(batch, prob, metrics, kept=kept):
            if sum(len(k) for k in kept) < figure_images:
                kept.append(prob[:, 0].numpy())

        summary = evaluate(model, test, trainer.device, batch_size=batch_size, on_batch=keep).summary()
        predictions[spec] = np.concatenate(kept)[:figure_images]
        pred_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(pred_file) as tmp, open(tmp, "wb") as fh:
            np.save(fh, predictions[spec])
        result["models"].append(
            {"model": spec, "steps": steps, "train_s": round(train_s, 1), **model_cost(model, size), "results": summary}
        )
        # written after every model, so an interrupted comparison keeps (and later reuses) what it finished
        write_text_atomic(out / "comparison.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(out / "comparison.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(out / "comparison.md", comparison_markdown(result))
    with atomic_path(out / "qualitative.png") as tmp:
        figure(test, predictions, models, figure_images).save(tmp, format="PNG")
    return result


def _finished_rows(out: Path, settings: dict) -> dict[str, dict]:
    """Rows of an earlier comparison.json in ``out`` made under the same budget and data (else none)."""
    path = out / "comparison.json"
    if not path.is_file():
        return {}
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}
    same = all(earlier.get(k) == v for k, v in settings.items() if k != "models")
    return {row["model"]: row for row in earlier.get("models", [])} if same else {}


def comparison_markdown(result: dict) -> str:
    groups = [g for g in result["models"][0]["results"] if g != "overall"] + ["overall"]
    head = "| model | params (M) | GFLOPs | CPU ms (b=1) | " + " | ".join(f"{g} AP / F1 / IoU" for g in groups) + " |"
    lines = [head, "|---|---:|---:|---:|" + "---|" * len(groups)]
    for row in result["models"]:
        cells = [
            f"{row['results'][g]['AP']:.2f} / {row['results'][g]['F1']:.4f} / {row['results'][g]['IoU']:.2f}"
            for g in groups
        ]
        lines.append(
            f"| {row['model']} | {row['params_M']} | {row['GFLOPs']} | {row['cpu_ms_b1']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def figure(test: CompositeDataset, predictions: dict[str, np.ndarray], models: list[str], n: int):
    rows = []
    for i in range(min(n, len(test))):
        item = test[i]
        image = (denormalize(item["image"]).clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        rows.append([image, item["mask"][0].numpy()] + [predictions[m][i] for m in models])
    labels = [m.replace("@loss.lambda_att=", " att=").replace("mobilenetv2", "mnv2") for m in models]
    return grid(rows, ["Image", "GT", *labels], cell=160)
