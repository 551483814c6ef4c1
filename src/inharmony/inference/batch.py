"""Folder prediction: expand inputs, decode in threads ahead of the model, keep going past bad files."""

from __future__ import annotations

import glob
import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from inharmony.imageio import ImageReadError, read_image_reduced

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files, folders (recursive, image suffixes) and globs → (files, [(input, error)])."""
    files, errors, seen = [], [], set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        if not found:
            errors.append((item, "no such file, folder or matching image"))
        for p in found:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                files.append(p)
    return files, errors


def load_record(path: Path, predictor, keep_image: bool = False) -> dict:
    """Decode and preprocess one file; an unreadable file becomes an error record, not an exception."""
    try:
        if keep_image:
            rgb = predictor.load(path)
            size = (rgb.height, rgb.width)
        else:  # only the mask is written: JPEGs may be decoded at a reduced scale
            rgb, size = read_image_reduced(path, predictor.size, predictor.max_pixels)
        array = predictor.preprocess(rgb)
    except (ImageReadError, OSError, ValueError) as exc:
        return {"path": str(path), "error": str(exc)}
    return {
        "path": str(path),
        "error": None,
        "array": array,
        "size": size,
        "image": np.asarray(rgb) if keep_image else None,
    }


def iter_batches(
    files: list[Path], predictor, batch_size: int, workers: int, keep_image: bool = False
) -> Iterator[list[dict]]:
    """Records in file order, ``batch_size`` at a time, decoded by ``workers`` threads a few batches ahead.

    Threads suffice: PIL decodes and resizes, and numpy normalises, with the GIL released.
    """
    if workers <= 0:
        for i in range(0, len(files), batch_size):
            yield [load_record(f, predictor, keep_image) for f in files[i : i + batch_size]]
        return
    ahead = batch_size * 3  # bounded look-ahead: kept full-size images (overlays) cannot pile up
    with ThreadPoolExecutor(max_workers=workers) as pool:
        queue: deque = deque()
        todo = iter(files)
        for f in itertools.islice(todo, ahead):
            queue.append(pool.submit(load_record, f, predictor, keep_image))
        batch: list[dict] = []
        while queue:
            batch.append(queue.popleft().result())
            for f in itertools.islice(todo, 1):
                queue.append(pool.submit(load_record, f, predictor, keep_image))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def output_stems(files: list[Path]) -> list[str]:
    """Unique output names: the file stem, with ``-2``, ``-3`` … for repeats."""
    counts: dict[str, int] = {}
    stems = []
    for f in files:
        counts[f.stem] = counts.get(f.stem, 0) + 1
        stems.append(f.stem if counts[f.stem] == 1 else f"{f.stem}-{counts[f.stem]}")
    return stems
