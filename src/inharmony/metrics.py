"""The published evaluation protocol of DIRL (reference §5), vectorised in torch.

Per image, at network resolution:

- ``protocol="published"``: the prediction *and* the mask go through the per-image min-max
  normalisation of the released code (``x − min`` when ``max − min < 0.01``, else ``(x − min)/(max − min)``);
  AP is scikit-learn's ``average_precision_score`` over the image's pixels; F1 and IoU threshold the
  normalised prediction at ``> 0.5`` with eps 1e-6. Note the mask normalisation turns an all-foreground
  mask into an empty one, exactly as the released code does.
- ``protocol="plain"``: raw probabilities, no normalisation, fixed threshold ``> 0.5``.

Each metric is then averaged over images (macro mean). AP and IoU are reported in %, F1 as a fraction.
An image with an empty mask gets AP = 0 (scikit-learn ≥ 1.1 behaviour).
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor

PROTOCOLS = ("published", "plain")
EPS = 1e-6


def normalize_per_image(x: Tensor) -> Tensor:
    """Min-max normalise each image of a B×N tensor ("normPRED"); ranges below 0.01 are only shifted."""
    lo = x.min(dim=1, keepdim=True).values
    rng = x.max(dim=1, keepdim=True).values - lo
    return torch.where(rng < 0.01, x - lo, (x - lo) / rng.clamp_min(0.01))


def average_precision(scores: Tensor, targets: Tensor) -> Tensor:
    """Per-row average precision, identical to ``sklearn.metrics.average_precision_score``.

    ``scores`` and ``targets`` are B×N (targets in {0, 1}); returns B values in [0, 1]
    (0 for a row with no positive). Ties are grouped into one threshold, as scikit-learn does.
    """
    dtype = torch.float64 if scores.device.type != "mps" else torch.float32
    s, order = torch.sort(scores, dim=1, descending=True, stable=True)
    y = torch.gather(targets.to(dtype), 1, order)
    tp = y.cumsum(dim=1)
    rank = torch.arange(1, s.shape[1] + 1, device=s.device, dtype=dtype)
    last = torch.ones_like(s, dtype=torch.bool)
    last[:, :-1] = s[:, :-1] != s[:, 1:]
    tp_at_last = torch.where(last, tp, torch.zeros_like(tp))
    prev = torch.cummax(tp_at_last, dim=1).values
    prev = torch.cat([torch.zeros_like(prev[:, :1]), prev[:, :-1]], dim=1)
    gain = torch.where(last, tp - prev, torch.zeros_like(tp))
    positives = tp[:, -1]
    ap = (gain * tp / rank).sum(dim=1) / positives.clamp_min(1)
    return ap.to(torch.float32)


def image_metrics(prob: Tensor, mask: Tensor, protocol: str = "published") -> dict[str, Tensor]:
    """AP, F1 and IoU for each image (fractions in [0, 1]).

    ``prob``: B×H×W or B×1×H×W probabilities; ``mask``: same shape, binary. Returns B-vectors.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if prob.shape != mask.shape:
        raise ValueError(f"prediction shape {tuple(prob.shape)} differs from mask shape {tuple(mask.shape)}")
    p = prob.detach().flatten(1).float()
    g = (mask.detach().flatten(1).float() > 0.5).float()
    if protocol == "published":
        p, g = normalize_per_image(p), normalize_per_image(g)
    ap = average_precision(p, g)
    b = (p > 0.5).float()
    tp = (b * g).sum(1)
    nb, ng = b.sum(1), g.sum(1)
    precision, recall = tp / (nb + EPS), tp / (ng + EPS)
    f1 = 2 * precision * recall / (precision + recall + EPS)
    iou = tp / (nb + ng - tp + EPS)
    return {"ap": ap, "f1": f1, "iou": iou}


class MetricAccumulator:
    """Collect per-image metrics and report macro means per group (subset) and overall."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def update(self, metrics: dict[str, Tensor], names: list[str], groups: list[str]) -> None:
        values = {k: v.cpu().tolist() for k, v in metrics.items()}
        for i, (name, group) in enumerate(zip(names, groups)):
            self.rows.append({"name": name, "group": group, **{k: values[k][i] for k in ("ap", "f1", "iou")}})

    def summary(self) -> dict[str, dict[str, float]]:
        """``{group: {"AP": %, "F1": fraction, "IoU": %, "n": count}}`` plus ``"overall"``."""
        grouped: dict[str, list[dict]] = defaultdict(list)
        for row in self.rows:
            grouped[row["group"]].append(row)
        out = {g: _mean(rows) for g, rows in sorted(grouped.items())}
        out["overall"] = _mean(self.rows)
        return out


def _mean(rows: list[dict]) -> dict[str, float]:
    n = len(rows)
    if n == 0:
        return {"AP": float("nan"), "F1": float("nan"), "IoU": float("nan"), "n": 0}
    return {
        "AP": 100.0 * sum(r["ap"] for r in rows) / n,
        "F1": sum(r["f1"] for r in rows) / n,
        "IoU": 100.0 * sum(r["iou"] for r in rows) / n,
        "n": n,
    }


def format_table(summary: dict[str, dict[str, float]]) -> str:
    """A markdown table of a :meth:`MetricAccumulator.summary`."""
    lines = ["| subset | images | AP (%) | F1 | IoU (%) |", "|---|---:|---:|---:|---:|"]
    for group, m in summary.items():
        lines.append(f"| {group} | {m['n']} | {m['AP']:.2f} | {m['F1']:.4f} | {m['IoU']:.2f} |")
    return "\n".join(lines)
