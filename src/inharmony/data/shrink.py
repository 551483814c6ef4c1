"""A downscaled copy of a photo folder (photos, label maps and object maps alike), to carry it where size counts.

Training uses photos at a long side of at most 512 px and crops them to 160–256 px, so a copy at 256–384 px
trains the same way from a fraction of the bytes (a lent GPU machine receives at most 64 MiB per call).
Relative paths are kept, so the photo index, its test split (chosen from the relative path) and the
segmentations beside the photos stay as they were. Label maps (PNG files of modes L, P, I) are resized with
nearest neighbour; photos with a Lanczos filter, as JPEG (or PNG for ``.png`` photos); other files are copied.
A file that cannot be read is reported and skipped; the rest of the folder is still written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from inharmony.fileio import atomic_path, save_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
LABEL_MODES = ("L", "P", "I", "I;16")


def shrink_file(src: Path, dst: Path, max_side: int, quality: int) -> str:
    """Write the downscaled ``src`` to ``dst``; returns "photo", "labels" or "copied"."""
    if src.suffix.lower() not in IMAGE_SUFFIXES:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        return "copied"
    with Image.open(src) as img:
        img.load()
        scale = max_side / max(img.size)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale))) if scale < 1 else img.size
        if img.mode in LABEL_MODES and src.suffix.lower() == ".png":  # a greyscale JPEG is still a photo
            out = img.resize(size, Image.NEAREST) if size != img.size else img.copy()
            with atomic_path(dst) as tmp:
                out.save(tmp, format="PNG")
            return "labels"
        out = img.convert("RGB").resize(size, Image.LANCZOS) if size != img.size else img.convert("RGB")
    save_image(dst, np.asarray(out), quality=quality)
    return "photo"


def shrink_folder(
    src: str | Path, out: str | Path, max_side: int = 320, quality: int = 90, progress=None
) -> dict[str, int | list[str]]:
    """Copy every file under ``src`` to the same relative path under ``out``, downscaled (see the module).
    Returns counts per kind, the bytes before and after, and the files that could not be read."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FileNotFoundError(f"photo folder not found: {src}")
    if max_side < 16:
        raise ValueError(f"max_side must be at least 16 px, got {max_side}")
    files = sorted(p for p in src.rglob("*") if p.is_file())
    counts: dict[str, int | list[str]] = {"photo": 0, "labels": 0, "copied": 0, "bytes_in": 0, "bytes_out": 0}
    failed: list[str] = []
    for path in files if progress is None else progress(files):
        dst = out / path.relative_to(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            kind = shrink_file(path, dst, max_side, quality)
        except OSError as exc:  # unreadable or not an image despite its name: report it, keep going
            failed.append(f"{path}: {exc}")
            continue
        counts[kind] += 1
        counts["bytes_in"] += path.stat().st_size
        counts["bytes_out"] += dst.stat().st_size
    counts["failed"] = failed
    return counts
