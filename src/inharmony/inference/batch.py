"""Folder prediction: expand inputs, decode in DataLoader workers, keep going past bad files."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

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


class ImageFileDataset(Dataset):
    """Decode and preprocess in workers; an unreadable file becomes an error record, not an exception."""

    def __init__(self, files: list[Path], predictor, keep_image: bool = False) -> None:
        self.files, self.predictor, self.keep_image = files, predictor, keep_image

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        try:
            if self.keep_image:
                rgb = self.predictor.load(path)
                size = (rgb.height, rgb.width)
            else:  # only the mask is written: JPEGs may be decoded at a reduced scale
                rgb, size = read_image_reduced(path, self.predictor.size, self.predictor.max_pixels)
        except (ImageReadError, OSError) as exc:
            return {"path": str(path), "error": str(exc)}
        return {
            "path": str(path),
            "error": None,
            "tensor": self.predictor.preprocess(rgb),
            "size": size,
            "image": np.asarray(rgb) if self.keep_image else None,
        }


def collate_records(records: list[dict]) -> list[dict]:
    return records


def output_stems(files: list[Path]) -> list[str]:
    """Unique output names: the file stem, with ``-2``, ``-3`` … for repeats."""
    counts: dict[str, int] = {}
    stems = []
    for f in files:
        counts[f.stem] = counts.get(f.stem, 0) + 1
        stems.append(f.stem if counts[f.stem] == 1 else f"{f.stem}-{counts[f.stem]}")
    return stems
