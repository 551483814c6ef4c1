"""The "le50" rule (DIRL reference §4.2): keep composites whose region covers at most 50 % of the image.

Computed from the masks themselves, written as list files next to the data (or in ``out_dir``), with
a seeded 10 % validation draw from train that is kept apart from training:

- ``le50_train.txt``: every le50 training composite (same meaning as DIRL's file);
- ``le50_val.txt``: the validation draw; ``le50_train_noval.txt``: training minus validation;
- ``le50_test.txt``: le50 test composites; ``le50_fractions.csv``: the cached region fraction per mask.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from inharmony.data.iharmony4 import Sample, make_iharmony4_dataset
from inharmony.fileio import atomic_path, write_text_atomic
from inharmony.imageio import read_mask

FG_UPPER_BOUND = 0.5
CACHE_NAME = "le50_fractions.csv"


def mask_fraction(path: Path) -> float:
    """Fraction of a mask's pixels that are foreground (value > 0.5)."""
    return float((read_mask(path) > 0.5).mean())


def load_fraction_cache(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["mask"]: float(row["fraction"]) for row in csv.DictReader(fh)}


def save_fraction_cache(path: Path, fractions: dict[str, float]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["mask", "fraction"])
        for key in sorted(fractions):
            writer.writerow([key, f"{fractions[key]:.6f}"])


def mask_fractions(samples: Iterable[Sample], root: Path, cache: dict[str, float], progress=None) -> dict[str, float]:
    """Region fraction for each sample's mask (root-relative mask path → fraction), filling ``cache``."""
    out = {}
    for sample in samples if progress is None else progress(samples):
        key = sample.mask.relative_to(root).as_posix()
        if key not in cache:
            cache[key] = mask_fraction(sample.mask)
        out[sample.name] = cache[key]
    return out


def validation_draw(entries: list[str], fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Seeded draw of ``fraction`` of ``entries`` → (train, val), both in the original order."""
    rng = random.Random(seed)
    k = max(1, round(len(entries) * fraction)) if entries else 0
    val = set(rng.sample(entries, k))
    return [e for e in entries if e not in val], [e for e in entries if e in val]


def build_le50(
    root: str | Path,
    out_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress=None,
) -> dict[str, dict[str, int]]:
    """Compute the le50 lists for a dataset root; returns per-split, per-subset counts (kept and dropped)."""
    root = Path(root)
    out = Path(out_dir) if out_dir is not None else root
    cache_path = out / CACHE_NAME
    cache = load_fraction_cache(cache_path)
    counts: dict[str, dict[str, int]] = {}
    kept_by_split: dict[str, list[str]] = {}
    try:
        for split in ("train", "test"):
            samples = make_iharmony4_dataset(root, split)
            fractions = mask_fractions(samples, root, cache, progress)
            kept = [s.name for s in samples if fractions[s.name] <= FG_UPPER_BOUND]
            kept_by_split[split] = kept
            total = Counter(s.subset for s in samples)
            kept_count = Counter(s.subset for s in samples if fractions[s.name] <= FG_UPPER_BOUND)
            counts[split] = {sub: kept_count[sub] for sub in sorted(total)}
            counts[f"{split}_dropped"] = {sub: total[sub] - kept_count[sub] for sub in sorted(total)}
    finally:
        save_fraction_cache(cache_path, cache)
    train, val = validation_draw(kept_by_split["train"], val_fraction, seed)
    lists = {"train": kept_by_split["train"], "test": kept_by_split["test"], "val": val, "train_noval": train}
    for name, entries in lists.items():
        write_text_atomic(out / f"le50_{name}.txt", "".join(e + "\n" for e in entries))
    counts["val"] = dict(Counter(e.split("/")[0] for e in val))
    return counts
