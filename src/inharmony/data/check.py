"""Pre-flight check of a dataset: open every composite, mask and real image, before hours of training find them.

Each problem names the file and what was expected: a missing or unreadable file, a mask whose size differs from
its composite, an empty mask, a mask that is not binary (more than 10 % of its pixels strictly between 0.1 and
0.9). Files are checked in threads (image decoding releases the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from inharmony.data.iharmony4 import Sample
from inharmony.imageio import ImageReadError, read_image, read_mask


def check_sample(sample: Sample) -> list[dict[str, str]]:
    """Problems of one sample, as ``{"name", "file", "problem"}`` rows (none when it is usable)."""
    problems = []

    def report(path: Path, problem: str) -> None:
        problems.append({"name": sample.name, "file": str(path), "problem": problem})

    size = None
    try:
        size = read_image(sample.composite).size
    except ImageReadError as exc:
        report(sample.composite, str(exc).removeprefix(f"{sample.composite}: "))
    try:
        mask = read_mask(sample.mask)
        if size is not None and mask.shape != (size[1], size[0]):
            report(sample.mask, f"mask is {mask.shape[1]}×{mask.shape[0]}, composite is {size[0]}×{size[1]}")
        if mask.max() <= 0.5:
            report(sample.mask, "mask is empty (no pixel above 0.5)")
        elif ((mask > 0.1) & (mask < 0.9)).mean() > 0.1:
            report(sample.mask, "mask is not binary (over 10 % of pixels between 0.1 and 0.9)")
    except ImageReadError as exc:
        report(sample.mask, str(exc).removeprefix(f"{sample.mask}: "))
    if sample.real != sample.composite:
        try:
            read_image(sample.real)
        except ImageReadError as exc:
            report(sample.real, str(exc).removeprefix(f"{sample.real}: "))
    return problems


def check_dataset(samples: list[Sample], workers: int = 4, progress=None) -> list[dict[str, str]]:
    """Problems of every sample (in the samples' order)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(check_sample, samples)
        if progress is not None:
            results = progress(results, total=len(samples))
        return [p for problems in results for p in problems]
