"""The image-level answer: "does this photo have an inharmonious region?" (numpy only, no torch).

The score of an image is the mean of its top 1 % pixel probabilities (at least one pixel): a model that marks a
region confidently scores near its confidence, one that marks nothing scores near 0, and a few stray pixels do
not decide. ``auroc`` measures how well a score separates composites from authentic photos. A model may carry a
:class:`Calibration` (Platt scaling, fitted by ``inharmony calibrate`` on composites and authentic photos of the
training split) that maps this raw score to a probability; the verdict and the mask then use its threshold.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOP_FRACTION = 0.01
CLIP = 1e-6  # raw scores are clipped to [CLIP, 1 - CLIP] before a calibration's logit


def image_score(probability: np.ndarray, top_fraction: float = TOP_FRACTION) -> float:
    """Mean of the top ``top_fraction`` of a probability map's values, in [0, 1]."""
    flat = np.asarray(probability, dtype=np.float32).ravel()
    if flat.size == 0:
        raise ValueError("image_score: empty probability map")
    k = max(1, int(round(flat.size * top_fraction)))
    return float(np.partition(flat, flat.size - k)[flat.size - k :].mean())


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve of scores for positives against negatives (ties count one half); NaN when either
    side is empty. Equal to ``sklearn.metrics.roc_auc_score``."""
    pos, neg = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return math.nan
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], scores.size]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0) / (pos.size * neg.size))


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), CLIP, 1.0 - CLIP)
    return np.log(p) - np.log1p(-p)


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the raw image score: ``calibrated = sigmoid(a · logit(raw) + b)``, ``a > 0`` (monotone, so
    AUROC and every ranking are unchanged). ``fit_on`` says on what it was fitted; a calibrated score is the
    probability that the image is a composite for the share of composites it was fitted for (see
    :func:`fit_calibration`)."""

    a: float
    b: float
    fit_on: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.a) and math.isfinite(self.b)) or self.a <= 0:
            raise ValueError(f"calibration needs a finite slope a > 0 and a finite b, got a={self.a}, b={self.b}")

    def __call__(self, raw: float) -> float:
        """The calibrated score of a raw score."""
        return float(_sigmoid(self.a * _logit(raw) + self.b))

    def raw_threshold(self, threshold: float) -> float:
        """The raw score (and pixel probability) that a calibrated ``threshold`` corresponds to."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if threshold in (0.0, 1.0):  # the ends map to themselves
            return float(threshold)
        return float(_sigmoid((_logit(threshold) - self.b) / self.a))

    def formula(self) -> str:
        """The map as text, e.g. ``sigmoid(0.8868 · logit(raw) + 0.5408)``."""
        return f"sigmoid({self.a:.4f} · logit(raw) {'+' if self.b >= 0 else '−'} {abs(self.b):.4f})"

    def to_info(self) -> dict:
        return {"method": "platt", "a": self.a, "b": self.b, "fit_on": self.fit_on}

    @classmethod
    def from_info(cls, info: dict | None) -> Calibration | None:
        """The calibration stored in a model's info (``info["calibration"]``), or None when it has none."""
        entry = (info or {}).get("calibration")
        if not entry:
            return None
        if entry.get("method") != "platt" or "a" not in entry or "b" not in entry:
            raise ValueError(f"model info 'calibration': expected a Platt entry with 'a' and 'b', got {entry!r}")
        return cls(float(entry["a"]), float(entry["b"]), str(entry.get("fit_on", "")))


def fit_calibration(
    positives: Sequence[float], negatives: Sequence[float], fit_on: str = "", prior: float = 0.5
) -> Calibration:
    """Platt scaling fitted by logistic regression of the label on ``logit(raw score)``, the two classes weighted
    equally (whatever their counts), then shifted to ``prior``: the calibrated score is the probability of a
    composite where a share ``prior`` of the images are composites (0.5: an even mix)."""
    if not 0.0 < prior < 1.0:
        raise ValueError(f"prior must be in (0, 1), got {prior}")
    from sklearn.linear_model import LogisticRegression

    pos, neg = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    if pos.size < 2 or neg.size < 2:
        raise ValueError(f"calibration needs 2 composites and 2 authentic photos or more, got {pos.size}, {neg.size}")
    x = _logit(np.concatenate([pos, neg]))[:, None]
    y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    fit = LogisticRegression(C=1e6, class_weight="balanced").fit(x, y)
    a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0] + _logit(prior))
    if a <= 0:
        raise ValueError(f"the raw score does not rank composites above authentic photos (slope {a:.3g})")
    return Calibration(a, b, fit_on)


def threshold_at_false_alarm(negatives: Sequence[float], rate: float) -> float:
    """The score above which at most a share ``rate`` of ``negatives`` lie (the ⌊rate · n⌋ + 1-th highest)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"false-alarm rate must be in [0, 1), got {rate}")
    neg = np.sort(np.asarray(negatives, dtype=np.float64))[::-1]
    if neg.size == 0:
        raise ValueError("need authentic photos to set a false-alarm rate, got none")
    return float(neg[min(int(math.floor(rate * neg.size + 1e-9)), neg.size - 1)])


def detection_at_false_alarm(
    positives: Sequence[float], negatives: Sequence[float], rate: float
) -> tuple[float, float]:
    """``(detection, threshold)``: the share of ``positives`` scoring above :func:`threshold_at_false_alarm`. Two
    models compared at one false-alarm rate need no calibration: a point of each one's ROC curve."""
    pos = np.asarray(positives, dtype=np.float64)
    if pos.size == 0:
        raise ValueError("need composites to count detections, got none")
    threshold = threshold_at_false_alarm(negatives, rate)
    return float(np.mean(pos > threshold)), threshold


def read_image_scores(summary_csv: str | Path) -> dict[Path, float]:
    """The calibrated image score of each file in ``inharmony predict``'s ``summary.csv`` (columns ``file`` and
    ``score``), by resolved path; files it could not score (empty score) are left out."""
    with open(summary_csv, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        if not rows.fieldnames or not {"file", "score"} <= set(rows.fieldnames):
            raise ValueError(f"{summary_csv}: columns 'file' and 'score' expected (inharmony predict's summary.csv)")
        return {Path(r["file"]).resolve(): float(r["score"]) for r in rows if r["score"]}
