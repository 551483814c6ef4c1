"""Train several models under one budget, evaluate them alike, and write the table and the qualitative figure."""

from __future__ import annotations

import json
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
from inharmony.fileio import write_text_atomic
from inharmony.viz import grid


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
    """Train each model for ``steps`` optimiser steps on ``root``'s training split, then evaluate on its test split."""
    out = Path(out)
    test = CompositeDataset(make_iharmony4_dataset(root, "test", list_file=test_list), size=size)
    rows, predictions = [], {}
    for name in models:
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
                *(overrides or []),
            ],
        )
        run = out / "runs" / name
        run.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run / "config.yaml")
        start = time.perf_counter()
        trainer = Trainer(cfg, run)
        trainer.fit()
        train_s = time.perf_counter() - start
        model = trainer.model.eval()
        save_model(model, out / "models" / f"{name}.safetensors", info={"size": size, "steps": steps})
        kept: list[np.ndarray] = []

        def keep(batch, prob, metrics, kept=kept):
            if sum(len(k) for k in kept) < figure_images:
                kept.append(prob[:, 0].numpy())

        summary = evaluate(model, test, trainer.device, batch_size=batch_size, on_batch=keep).summary()
        predictions[name] = np.concatenate(kept)[:figure_images]
        rows.append(
            {"model": name, "steps": steps, "train_s": round(train_s, 1), **model_cost(model, size), "results": summary}
        )
    result = {
        "root": str(root),
        "size": size,
        "steps": steps,
        "batch_size": batch_size,
        "overrides": overrides or [],
        "models": rows,
    }
    write_text_atomic(out / "comparison.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(out / "comparison.md", comparison_markdown(result))
    figure(test, predictions, models, figure_images).save(out / "qualitative.png")
    return result


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
    return grid(rows, ["Image", "GT", *models], cell=160)
