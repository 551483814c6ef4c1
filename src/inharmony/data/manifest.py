"""Datasets described by a CSV manifest (columns ``composite``, ``mask`` and optional grouping columns).

Paths are relative to the manifest's folder and may not leave it. Used for collections of real
composites that do not follow the iHarmony4 naming, e.g. ``../shared/realdata/manifest.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath

from inharmony.data.iharmony4 import DatasetError, Sample


def read_manifest(path: str | Path, group_by: str = "source") -> list[Sample]:
    """Samples of a manifest; ``group_by`` names the column used as the reporting group."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest not found: {path}")
    base = path.parent
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"composite", "mask", group_by} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: missing column(s) {sorted(missing)}; found {reader.fieldnames}")
        rows = list(reader)
    samples, seen = [], set()
    for line, row in enumerate(rows, start=2):
        for key in ("composite", "mask"):
            rel = PurePosixPath(row[key])
            if rel.is_absolute() or ".." in rel.parts:
                raise DatasetError(f"{path}, line {line}: {key} path {row[key]!r} points outside {base}")
        composite, mask = base / row["composite"], base / row["mask"]
        for p in (composite, mask):
            if not p.is_file():
                raise DatasetError(f"{path}, line {line}: {p} is missing")
        if row["composite"] in seen:
            continue
        seen.add(row["composite"])
        real = base / row["real"] if row.get("real") else composite
        samples.append(Sample(row["composite"], row[group_by] or "unknown", composite, mask, real))
    if not samples:
        raise DatasetError(f"{path}: no rows")
    return samples
