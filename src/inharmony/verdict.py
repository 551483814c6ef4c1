"""The image-level answer: "does this photo have an inharmonious region?" (numpy only, no torch).

The score of an image is the mean of its top 1 % pixel probabilities (at least one pixel): a model that marks a
region confidently scores near its confidence, one that marks nothing scores near 0, and a few stray pixels do
not decide. ``auroc`` measures how well a score separates composites from authentic photos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

TOP_FRACTION = 0.01


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
