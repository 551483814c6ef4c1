"""Indexing the iHarmony4 layout (DIRL reference §4) as pure functions.

::

    <root>/<Subset>/composite_images/<name>_<maskid>_<k>.jpg
    <root>/<Subset>/masks/<name>_<maskid>.png
    <root>/<Subset>/real_images/<name>.jpg
    <root>/<Subset>/<Subset>_train.txt, <Subset>_test.txt     (file names or root-relative paths)
    <root>/IHD_train.txt, IHD_test.txt, le50_*.txt            (root-relative paths)

Any other top-level folder laid out the same way (e.g. the synthetic generator's) is a subset too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

SUBSETS = ("HCOCO", "HAdobe5k", "HFlickr", "Hday2night")
PREFIXES = {"c": "HCOCO", "a": "HAdobe5k", "f": "HFlickr", "d": "Hday2night"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DatasetError(ValueError):
    """A dataset root, list or entry that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Sample:
    """One composite: root-relative ``name`` (as in the list files) and the three absolute paths."""

    name: str
    subset: str
    composite: Path
    mask: Path
    real: Path


def parse_entry(entry: str) -> tuple[str, str, str]:
    """Split ``<Subset>/composite_images/<name>_<maskid>_<k>.<ext>`` into (subset, mask rel, real rel).

    Raises :class:`DatasetError` for entries that do not follow the convention or leave the root.
    """
    rel = PurePosixPath(entry.strip().replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise DatasetError(f"list entry {entry!r} points outside the dataset root")
    if len(rel.parts) != 3 or rel.parts[1] != "composite_images":
        raise DatasetError(f"list entry {entry!r}: expected <Subset>/composite_images/<name>_<maskid>_<k>.jpg")
    subset, stem = rel.parts[0], rel.stem
    fields = stem.rsplit("_", 2)
    if len(fields) != 3 or not all(fields):
        raise DatasetError(f"list entry {entry!r}: file name must look like <name>_<maskid>_<k>, got {rel.name!r}")
    name, mask_id, _version = fields
    return subset, f"{subset}/masks/{name}_{mask_id}.png", f"{subset}/real_images/{name}.jpg"


def subset_of(entry: str) -> str:
    """Subset of an entry: its top folder (the reference's file-name prefix c/a/f/d gives the same)."""
    return PurePosixPath(entry.replace("\\", "/")).parts[0]


def make_sample(root: Path, entry: str) -> Sample:
    subset, mask_rel, real_rel = parse_entry(entry)
    entry = str(PurePosixPath(entry.strip().replace("\\", "/")))
    return Sample(entry, subset, root / entry, root / mask_rel, root / real_rel)


def read_list(path: Path) -> list[str]:
    """Non-empty lines of a list file."""
    if not path.is_file():
        raise DatasetError(f"list file not found: {path}")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def discover_subsets(root: Path) -> list[str]:
    """Top-level folders of ``root`` that hold a ``composite_images`` folder (known subsets first)."""
    found = [p.name for p in sorted(root.iterdir()) if (p / "composite_images").is_dir()] if root.is_dir() else []
    return sorted(found, key=lambda s: (s not in SUBSETS, s))


def split_entries(root: Path, split: str, subsets: list[str] | None = None) -> list[str]:
    """Entries of ``split`` from ``IHD_<split>.txt`` or, failing that, the per-subset lists."""
    global_list = root / f"IHD_{split}.txt"
    if global_list.is_file():
        entries = read_list(global_list)
        return [e for e in entries if subsets is None or subset_of(e) in subsets]
    entries: list[str] = []
    for subset in subsets or discover_subsets(root):
        for line in read_list(root / subset / f"{subset}_{split}.txt"):
            entries.append(line if "/" in line else f"{subset}/composite_images/{line}")
    if not entries:
        raise DatasetError(f"no {split} lists under {root}: expected IHD_{split}.txt or <Subset>/<Subset>_{split}.txt")
    return entries


def make_iharmony4_dataset(
    root: str | Path,
    split: str = "train",
    list_file: str | Path | None = None,
    subsets: list[str] | None = None,
    check_files: bool = True,
) -> list[Sample]:
    """Index a dataset root into :class:`Sample` records.

    ``list_file`` (root-relative entries, e.g. ``le50_test.txt``) overrides the split's own lists.
    Duplicate entries are skipped with a warning; with ``check_files`` a missing composite or mask
    raises an error naming the file.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root not found: {root}")
    if list_file is not None:
        lf = Path(list_file)
        entries = read_list(lf if lf.is_absolute() or lf.exists() else root / lf)
        if subsets is not None:
            entries = [e for e in entries if subset_of(e) in subsets]
    else:
        entries = split_entries(root, split, subsets)
    samples, seen = [], set()
    for entry in entries:
        sample = make_sample(root, entry)
        if sample.name in seen:
            log.warning("duplicate list entry skipped: %s", sample.name)
            continue
        seen.add(sample.name)
        if check_files:
            for path in (sample.composite, sample.mask):
                if not path.is_file():
                    raise DatasetError(f"{path} is missing (listed as {sample.name})")
        samples.append(sample)
    return samples
