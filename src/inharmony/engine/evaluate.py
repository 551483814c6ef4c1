"""Run the published protocol over a dataset (batched; the metrics are per image)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from inharmony.metrics import MetricAccumulator, image_metrics


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    dataset: Dataset,
    device: torch.device | str = "cpu",
    batch_size: int = 8,
    workers: int = 0,
    protocol: str = "published",
    progress: Callable | None = None,
    on_batch: Callable[[dict, torch.Tensor, dict], None] | None = None,
) -> MetricAccumulator:
    """Per-image AP/F1/IoU of ``model`` on ``dataset`` items (``image``, ``mask``, ``name``, ``subset``).

    ``on_batch(batch, probabilities, metrics)`` is called after each batch (to save masks or rows); for a model
    with a verdict head, ``batch["candidate"]`` then holds its ungated mask probabilities (where the region would be).
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
    acc = MetricAccumulator()
    for batch in loader if progress is None else progress(loader):
        out = model(batch["image"].to(device))
        prob = torch.sigmoid(out["logits"].float())
        if "mask_logits" in out:
            batch["candidate"] = torch.sigmoid(out["mask_logits"].float()).cpu()
        metrics = image_metrics(prob, batch["mask"].to(device), protocol=protocol)
        acc.update(metrics, list(batch["name"]), list(batch["subset"]))
        if on_batch is not None:
            on_batch(batch, prob.cpu(), {k: v.cpu() for k, v in metrics.items()})
    return acc
