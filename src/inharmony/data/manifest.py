"""Datasets described by a CSV manifest (columns ``composite``, ``mask`` and optional grouping columns).

Paths are relative to the manifest's folder and may not leave it. Used for collections of real
composites that do not follow the iHarmony4 naming, e.g. ``../shared/realdata/manifest.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath

from inharmony.data.iharmony4 import DatasetError, Sample


def read_manifest(
    path: str | Path, group_by: str = "source", split: str | None = None, group_optional: bool = False
) -> list[Sample]:
    """Samples of a manifest; ``group_by`` names the column used as the reporting group (with ``group_optional``,
    a manifest without that column puts every sample in group ``all``); ``split``: only the rows whose ``split``
    column has that value (all rows when the manifest has no such column)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest not found: {path}")
    base = path.parent
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or [])
        if group_optional and group_by not in columns:
            group_by = None
        missing = {"composite", "mask", group_by} - {None} - columns
        if missing:
            raise DatasetError(f"{path}: missing column(s) {sorted(missing)}; found {reader.fieldnames}")
        rows = list(enumerate(reader, start=2))
    if split is not None and "split" in columns:
        rows = [(line, row) for line, row in rows if row["split"] == split]
    samples, seen = [], set()
    for line, row in rows:
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
        group = (row[group_by] or "unknown") if group_by else "all"
        samples.append(Sample(row["composite"], group, composite, mask, real))
    if not samples:
        where = f" in split {split!r}" if split is not None and "split" in columns else ""
        raise DatasetError(f"{path}: no rows{where}")
    return samples
