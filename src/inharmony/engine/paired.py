"""How sure is a difference between two evaluations of the same images? A paired bootstrap over images.

``inharmony evaluate --per-image`` writes each image's figures (``per_image.csv``). Two models evaluated on the same
sets can be compared image by image: the difference in mean AP over a set's composites, in the AUROC of the image
score (composites against the set's authentic photos) and in the false-alarm rate (authentic photos scoring above
0.5), each with a 95 % interval from resampling the set's images with replacement, the same draw for both models
(Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13). A 48-image set moves by several AP between
two reasonable models by chance alone; this says by how much.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inharmony.verdict import auroc, detection_at_false_alarm


@dataclass(frozen=True)
class Gap:
    """``b − a`` for one figure of one set: the point value, a 95 % bootstrap interval and the share of
    resamples in which ``b`` is above ``a``."""

    figure: str
    a: float
    b: float
    low: float
    high: float
    b_above: float

    @property
    def delta(self) -> float:
        return self.b - self.a


@dataclass(frozen=True)
class _Images:
    names: list[str]
    ap: np.ndarray  # composites' AP (NaN for authentic photos)
    score: np.ndarray
    authentic: np.ndarray


def read_per_image(path: str | Path, model: str | None = None) -> dict[str, dict[str, dict]]:
    """``{set: {name: row}}`` of one model's rows in a ``per_image.csv``; ``model`` is needed when the file holds
    several. Rows with an error are left out."""
    path = Path(path)
    if path.is_dir():
        path = path / "per_image.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no per-image results (run inharmony evaluate with --per-image)")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = {"model", "set", "name", "authentic", "ap", "score"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path}: not a per-image results file (columns {sorted(missing)} missing)")
    models = sorted({r["model"] for r in rows})
    if model is None and len(models) > 1:
        raise ValueError(f"{path} holds models {models}: say which one")
    model = model or models[0]
    if model not in models:
        raise ValueError(f"{path} has no model {model!r}; it holds {models}")
    out: dict[str, dict[str, dict]] = {}
    for r in rows:
        if r["model"] == model and not r.get("error"):
            out.setdefault(r["set"], {})[r["name"]] = r
    return out


def by_group(sets: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """Each set's composites split by their ``group`` column into sets named ``set/group``, each with all the set's
    authentic photos (so a group keeps an AUROC and false alarms against the same photos); a set whose composites
    form one group stays as it is. E.g. the real composites by the method or paper that made them."""
    out: dict[str, dict[str, dict]] = {}
    for name, rows in sets.items():
        authentic = {n: r for n, r in rows.items() if r["authentic"] == "True"}
        composites = {n: r for n, r in rows.items() if r["authentic"] != "True"}
        groups = sorted({r.get("group") or "all" for r in composites.values()})
        if len(groups) < 2:
            out[name] = rows
            continue
        for group in groups:
            members = {n: r for n, r in composites.items() if (r.get("group") or "all") == group}
            out[f"{name}/{group}"] = members | authentic
    return out


def _images(rows: dict[str, dict], names: list[str]) -> _Images:
    def number(text: str) -> float:
        return float(text) if text not in ("", None) else math.nan

    return _Images(
        names=names,
        ap=np.array([number(rows[n]["ap"]) for n in names]),
        score=np.array([number(rows[n]["score"]) for n in names]),
        authentic=np.array([rows[n]["authentic"] == "True" for n in names]),
    )


def _figures(images: _Images, index: np.ndarray) -> dict[str, float]:
    authentic = images.authentic[index]
    ap, score = images.ap[index][~authentic], images.score[index]
    figures = {"AP": float(np.nanmean(ap) * 100)} if np.isfinite(images.ap).any() else {}
    if authentic.any():
        figures["false alarms"] = float(np.mean(score[authentic] > 0.5) * 100)
        if (~authentic).any():
            figures["AUROC"] = auroc(score[~authentic], score[authentic])
    return figures


def paired_gaps(a: dict[str, dict], b: dict[str, dict], resamples: int = 2000, seed: int = 0) -> list[Gap]:
    """The gaps ``b − a`` of one set (rows by image name, as :func:`read_per_image` gives them); both must hold
    the same images. Composites and authentic photos are resampled separately, so every resample keeps both."""
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))
        raise ValueError(f"the two evaluations hold different images ({len(only)} in one only, e.g. {only[:3]})")
    names = sorted(a)
    left, right = _images(a, names), _images(b, names)
    if not np.array_equal(left.authentic, right.authentic):
        raise ValueError("the two evaluations disagree on which images are authentic")
    point = (_figures(left, np.arange(len(names))), _figures(right, np.arange(len(names))))
    draws: dict[str, list[float]] = {k: [] for k in point[0]}
    for index in _resamples(left.authentic, resamples, seed):
        fa, fb = _figures(left, index), _figures(right, index)
        for k in draws:
            draws[k].append(fb[k] - fa[k])
    gaps = []
    for k, values in draws.items():
        low, high, above = _summary(values)
        gaps.append(Gap(k, point[0][k], point[1][k], low, high, above))
    return gaps


def intervals(rows: dict[str, dict], resamples: int = 2000, seed: int = 0) -> list[tuple[str, float, float, float]]:
    """``(figure, value, low, high)`` for one evaluation of one set: each figure with its 95 % bootstrap
    interval over the set's images (how precisely a set of this size measures it)."""
    images = _images(rows, sorted(rows))
    point = _figures(images, np.arange(len(images.names)))
    draws: dict[str, list[float]] = {k: [] for k in point}
    for index in _resamples(images.authentic, resamples, seed):
        for k, v in _figures(images, index).items():
            draws[k].append(v)
    return [(k, point[k], *_summary(values)[:2]) for k, values in draws.items()]


def matched_detection_gap(
    a_negatives: dict[str, float],
    b_negatives: dict[str, float],
    a_positives: dict[str, float],
    b_positives: dict[str, float],
    rate: float,
    resamples: int = 2000,
    seed: int = 0,
) -> Gap:
    """The gap ``b − a`` in the share of composites detected (in %) where each model flags a share ``rate`` of
    the authentic photos: ``*_negatives`` are the two models' raw scores of the same authentic photos,
    ``*_positives`` of the same composites (by name). Each resample draws the photos and the composites apart,
    the same draw for both models, and sets each model's threshold anew on the drawn photos, so the interval
    holds the uncertainty of the threshold as well as that of the detections."""
    for what, left, right in (("authentic photos", a_negatives, b_negatives), ("composites", a_positives, b_positives)):
        if set(left) != set(right):
            only = sorted(set(left) ^ set(right))
            raise ValueError(f"the two evaluations hold different {what} ({len(only)} in one only, e.g. {only[:3]})")
    negatives, positives = sorted(a_negatives), sorted(a_positives)
    scores = [
        (np.array([neg[n] for n in negatives]), np.array([pos[n] for n in positives]))
        for neg, pos in ((a_negatives, a_positives), (b_negatives, b_positives))
    ]

    def detected(index_neg: np.ndarray, index_pos: np.ndarray) -> list[float]:
        return [100 * detection_at_false_alarm(p[index_pos], n[index_neg], rate)[0] for n, p in scores]

    point = detected(np.arange(len(negatives)), np.arange(len(positives)))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        index_neg = rng.choice(len(negatives), size=len(negatives), replace=True)
        index_pos = rng.choice(len(positives), size=len(positives), replace=True)
        a, b = detected(index_neg, index_pos)
        draws.append(b - a)
    low, high, above = _summary(draws)
    return Gap(f"detected at {rate:.2%} false alarms", point[0], point[1], low, high, above)


def _resamples(authentic: np.ndarray, count: int, seed: int):
    """Index arrays that resample the authentic photos and the composites apart, each with replacement."""
    rng = np.random.default_rng(seed)
    parts = [p for p in (np.flatnonzero(authentic), np.flatnonzero(~authentic)) if p.size]
    for _ in range(count):
        yield np.concatenate([rng.choice(p, size=p.size, replace=True) for p in parts])


def _summary(values: list[float]) -> tuple[float, float, float]:
    """2.5 and 97.5 percentiles and the share above 0 of the finite draws (NaN when none is)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not values.size:
        return math.nan, math.nan, math.nan
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high), float(np.mean(values > 0))
