"""Calibrating the image score: Platt scaling fitted on composites and authentic photos kept apart from every test
set (e.g. the training split of a synthetic manifest with its authentic twins), stored in the model file's info.

The raw score (mean of the top 1 % probabilities) ranks images but is not a probability: a model that learned to
be cautious scores most composites below 0.5. After calibration, ``score`` is the probability that an image is a
composite where a share ``prior`` of the images are (0.5 by default: an even mix, as the fit set and the AUROC),
the default threshold 0.5 sits where the two kinds are then equally likely, and the mask uses the raw equivalent of
that threshold (see :class:`inharmony.verdict.Calibration`).
A monotone map: AUROC and AP do not move; detections and false alarms at the default threshold do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inharmony.engine.report import EvalSet, evaluate_sets
from inharmony.verdict import Calibration, auroc, fit_calibration


def brier(probability: np.ndarray, labels: np.ndarray, prior: float = 0.5) -> float:
    """Mean squared error of probabilities against 0/1 labels, the classes weighted to a share ``prior`` of 1s."""
    err = (probability - labels) ** 2
    return float(prior * err[labels == 1].mean() + (1 - prior) * err[labels == 0].mean())


def fit_on_sets(
    predictor, sets: list[EvalSet], batch_size: int = 8, progress=None, prior: float = 0.5, fit_on: str | None = None
) -> tuple[Calibration, dict]:
    """Fit a :class:`Calibration` to the raw scores of ``predictor`` on ``sets`` (their composites against their
    authentic photos) for a share ``prior`` of composites. Returns it and a report: counts, AUROC, the raw
    threshold of 0.5, and for the fit set the detection and false-alarm rates and the Brier score (the classes
    weighted to ``prior``), raw and calibrated. ``fit_on``: what to record as the fit set (default: the sets'
    names)."""
    rows = [r for r in evaluate_sets(predictor, "calibrate", sets, batch_size, progress) if "error" not in r]
    pos = np.array([r["raw_score"] for r in rows if not r["authentic"]])
    neg = np.array([r["raw_score"] for r in rows if r["authentic"]])
    calibration = fit_calibration(pos, neg, fit_on=fit_on or ", ".join(s.name for s in sets), prior=prior)
    raw = np.r_[pos, neg]
    labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    cal = np.array([calibration(x) for x in raw])
    report = {
        "prior": prior,
        "n_composites": int(pos.size),
        "n_authentic": int(neg.size),
        "auroc": auroc(pos, neg),
        "raw_threshold": calibration.raw_threshold(0.5),
        "detected": {"raw": float((pos > 0.5).mean()), "calibrated": float((cal[: pos.size] > 0.5).mean())},
        "false_alarm": {"raw": float((neg > 0.5).mean()), "calibrated": float((cal[pos.size :] > 0.5).mean())},
        "brier": {"raw": brier(raw, labels, prior), "calibrated": brier(cal, labels, prior)},
    }
    return calibration, report


def write_calibrated(source: str | Path, target: str | Path, calibration: Calibration, report: dict) -> Path:
    """A copy of the model file ``source`` whose info carries the calibration (weights unchanged). Stored figures
    (``scores``) that depend on the threshold are dropped: re-evaluate the calibrated file."""
    from inharmony.checkpoint import rewrite_info

    entry = {**calibration.to_info(), **{k: report[k] for k in ("prior", "n_composites", "n_authentic", "auroc")}}
    return rewrite_info(source, target, {"calibration": entry}, drop=("scores",))
