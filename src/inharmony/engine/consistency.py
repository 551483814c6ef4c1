"""Training of the self-supervised colour-consistency embedding (``inharmony consistency``).

Authentic photos only (:class:`~inharmony.data.patch_pairs.PatchPairs` of the photos' training split); no mask
is read. Binary cross-entropy on "these two patches were processed differently", Adam, a time budget. Every
``val_every`` steps it measures fixed validation pairs of the held-out photos (accuracy at 0.5 and AUROC, overall
and per kind of pair), appends them to ``metrics.jsonl`` and writes ``last.safetensors``,
``steps/step_N.safetensors`` and, when the validation AUROC is the best so far, ``best.safetensors`` (pair
validation need not rank what localises best, hence the trajectory): files the evaluation command and ``--init``
read. ``--init`` continues from a model file, adding to the samples it records, so sessions add up.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from inharmony.checkpoint import load_model, save_model
from inharmony.data.patch_pairs import KINDS, PatchPairs
from inharmony.data.synth.photos import index_photos
from inharmony.fileio import write_text_atomic
from inharmony.models import create_model
from inharmony.verdict import auroc

log = logging.getLogger(__name__)
MODEL = "consistency_patches"
EVAL_SIZE = 256  # the size the evaluation command uses for these files


def pair_logits(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    return model.head(model.embedder.embed(batch["a"]), model.embedder.embed(batch["b"]))


@torch.no_grad()
def validate(model: torch.nn.Module, loader: DataLoader) -> dict:
    model.eval()
    scores, labels, kinds = [], [], []
    for batch in loader:
        scores.append(torch.sigmoid(pair_logits(model, batch)))
        labels.append(batch["label"])
        kinds += list(batch["kind"])
    model.train()
    s, y, k = torch.cat(scores).numpy(), torch.cat(labels).numpy(), np.asarray(kinds)
    out = {"val_acc": float(((s > 0.5) == (y > 0.5)).mean()), "val_auroc": auroc(s[y > 0.5], s[y < 0.5])}
    for kind in KINDS[1:]:  # each kind of "different" against the "same" pairs
        out[f"val_auroc_{kind}"] = auroc(s[k == kind], s[k == "same"])
    return out


def train_consistency(
    photos: str | Path,
    out: str | Path,
    minutes: float,
    init: str | Path | None = None,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    workers: int = 1,
    val_pairs: int = 1024,
    val_every: int = 200,
    max_steps: int | None = None,
    smooth: int = 0,
) -> dict:
    """Train for ``minutes`` (or ``max_steps``) and return the last validation record; ``smooth``: the new model's
    input blur (a file given as ``init`` keeps its own)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    index, report = index_photos(photos)
    train = [p for p in index if p.split == "train"]
    held = [p for p in index if p.split == "test"]
    log.info("consistency: %d training photos, %d held-out photos (%s)", len(train), len(held), report)
    model = load_model(init) if init else create_model(MODEL, smooth=smooth)
    if model.model_name != MODEL:
        raise ValueError(f"--init {init}: a {model.model_name!r} file, expected {MODEL!r}")
    before = int(getattr(model, "model_info", {}).get("samples", 0))
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    pairs = PatchPairs(train, length=batch_size * 10_000, seed=seed)
    val = PatchPairs(held, length=val_pairs, seed=10_000 + seed)
    val_loader = DataLoader(val, batch_size=256, num_workers=0)
    loader = DataLoader(pairs, batch_size=batch_size, num_workers=workers, persistent_workers=workers > 0)
    began, step, seen, best, record = time.perf_counter(), 0, 0, -1.0, {}
    window_start, window_seen, loss_sum = time.perf_counter(), 0, 0.0

    def checkpoint() -> dict:
        nonlocal best
        rec = {"step": step, "samples": before + seen, "minutes": round((time.perf_counter() - began) / 60, 2)}
        rec.update(validate(model, val_loader))
        info = {"size": EVAL_SIZE, "samples": before + seen, "validation": rec}
        save_model(model, out / "last.safetensors", info=info)
        save_model(model, out / "steps" / f"step_{step:06d}.safetensors", info=info)  # 1.2 MB: the trajectory
        if rec["val_auroc"] > best:
            best = rec["val_auroc"]
            save_model(model, out / "best.safetensors", info=info)
        lines = (out / "metrics.jsonl").read_text() if (out / "metrics.jsonl").exists() else ""
        write_text_atomic(out / "metrics.jsonl", lines + json.dumps(rec, sort_keys=True) + "\n")
        log.info("consistency validation: %s", json.dumps(rec, sort_keys=True))
        return rec

    for batch in loader:
        loss = F.binary_cross_entropy_with_logits(pair_logits(model, batch), batch["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        seen += len(batch["label"])
        window_seen += len(batch["label"])
        loss_sum += float(loss.detach())
        if step % 25 == 0:
            rate = window_seen / (time.perf_counter() - window_start)
            log.info("consistency step %d (%d pairs): loss %.4f, %.1f pairs/s", step, seen, loss_sum / 25, rate)
            window_start, window_seen, loss_sum = time.perf_counter(), 0, 0.0
        done = (max_steps is not None and step >= max_steps) or time.perf_counter() - began >= 60 * minutes
        if step % val_every == 0 or done:
            record = checkpoint()
        if done:
            break
    if record.get("step") != step:  # the pairs ran out first
        record = checkpoint()
    return record
