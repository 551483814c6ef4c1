"""Photo sources as data: any folder of photos, with optional human segmentations beside them.

Layout understood (the BSDS500 layout of ``../shared/photos``; any other folder is a flat photo set)::

    <anything>/images/<split>/<ID>.jpg
    <anything>/segments/<split>/<ID>_<K>.png      (annotator K's label map: one integer per segment)

Split by photo, never by composite: a photo under an ``images/test/`` folder, and a fixed tenth of all
other photos (chosen by a hash of the photo's path relative to the folder, so the choice does not depend on
which other photos are present) is a *test* photo. Non-photographs (greyscale, flat graphics) and duplicates
(same average hash) are dropped and counted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from inharmony.data.corpus import average_hash
from inharmony.imageio import ImageReadError, read_image

log = logging.getLogger(__name__)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Photo:
    """One photo: its file, its split (``train``/``test``), the label-map files of its human segmentations and, for
    photos without any, an optional object map computed by a model."""

    path: Path
    split: str
    segments: tuple[Path, ...] = field(default=())
    objects: Path | None = None  # a computed object map (``inharmony data objects``) for photos without segments


def photo_stats(img: Image.Image) -> dict[str, float]:
    """Colour and texture statistics used to tell photographs from graphics (on a 64×64 thumbnail).

    ``chroma``: mean max−min over RGB (0 for greyscale); ``colours``: distinct colours at 5 bits per channel;
    ``flat``: share of pixels whose 4-neighbourhood is exactly constant (large for drawings and flat fills).
    """
    small = np.asarray(img.convert("RGB").resize((64, 64), Image.BILINEAR), dtype=np.int16)
    chroma = float((small.max(-1) - small.min(-1)).mean())
    colours = len(np.unique(small.reshape(-1, 3) // 8, axis=0))
    grey = small.mean(-1)
    same = (grey[1:-1, 1:-1] == grey[:-2, 1:-1]) & (grey[1:-1, 1:-1] == grey[2:, 1:-1])
    same &= (grey[1:-1, 1:-1] == grey[1:-1, :-2]) & (grey[1:-1, 1:-1] == grey[1:-1, 2:])
    return {"chroma": chroma, "colours": float(colours), "flat": float(same.mean())}


def is_photograph(stats: dict[str, float]) -> bool:
    """In colour (not greyscale or near-grey: a colour change needs colour), more than a palette of colours, and
    not mostly perfectly flat fills. Thresholds from ../shared/photos: every greyscale photo there has chroma < 3;
    natural photos with few hues (sky, sea, one animal) still have ≥ 80 colours; studio shots on a clipped white
    backdrop reach a flat share of 0.5."""
    return stats["chroma"] >= 3 and stats["colours"] >= 40 and stats["flat"] <= 0.5


def is_test_photo(rel: str, test_fraction: float) -> bool:
    """BSDS-style ``images/test/`` photos, and a fixed hash-chosen ``test_fraction`` of the others."""
    parts = Path(rel).parts
    if len(parts) >= 2 and parts[-2] == "test" and len(parts) >= 3 and parts[-3] == "images":
        return True
    digest = int(hashlib.sha1(Path(rel).as_posix().encode()).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < test_fraction


def segment_files(path: Path) -> tuple[Path, ...]:
    """Human segmentations beside a photo of the ``images/<split>/ID.jpg`` layout (none for other photos)."""
    if path.parent.parent.name != "images":
        return ()
    folder = path.parent.parent.parent / "segments" / path.parent.name
    return tuple(sorted(folder.glob(f"{path.stem}_*.png")))


def index_photos(
    folder: str | Path, test_fraction: float = 0.1, filter_photos: bool = True, objects: str | Path | None = None
) -> tuple[list[Photo], dict]:
    """All usable photos under ``folder`` and a report ``{"found", "kept", "not_photo", "duplicate", "unreadable"}``.

    ``objects``: a folder of object maps mirroring ``folder`` (``<objects>/<relative path>.png``, written by
    ``inharmony data objects``), used for photos that have no human segmentation.

    Raises ``FileNotFoundError`` naming the folder when it is missing or holds no photo.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
    files = [p for p in files if "segments" not in p.relative_to(folder).parts]
    report = {"found": len(files), "kept": 0, "not_photo": 0, "duplicate": 0, "unreadable": 0, "test": 0}
    photos, seen = [], set()
    for path in files:
        try:
            img = Image.open(path)
            img.draft("RGB", (128, 128))  # JPEG: decode at reduced scale, enough for the statistics
            img = img.convert("RGB")
        except OSError as exc:
            log.warning("photo skipped (unreadable): %s (%s)", path, exc)
            report["unreadable"] += 1
            continue
        if filter_photos and not is_photograph(photo_stats(img)):
            report["not_photo"] += 1
            continue
        key = average_hash(img)
        if key in seen:
            report["duplicate"] += 1
            continue
        seen.add(key)
        rel = path.relative_to(folder).as_posix()
        split = "test" if is_test_photo(rel, test_fraction) else "train"
        segments = segment_files(path)
        obj = Path(objects) / Path(rel).with_suffix(".png") if objects is not None and not segments else None
        photos.append(Photo(path, split, segments, obj if obj is not None and obj.is_file() else None))
    report["kept"] = len(photos)
    report["object_maps"] = sum(p.objects is not None for p in photos)
    report["test"] = sum(p.split == "test" for p in photos)
    if not photos:
        raise FileNotFoundError(f"no usable photos ({', '.join(PHOTO_SUFFIXES)}) under {folder}")
    return photos, report


def load_photo(path: Path, max_side: int) -> np.ndarray:
    """An H×W×3 uint8 photo, downscaled so its long side is at most ``max_side``."""
    img = read_image(path)
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return np.asarray(img)


def load_segments(photo: Photo, shape: tuple[int, int], objects: bool = False) -> list[np.ndarray]:
    """The photo's human label maps (or, with ``objects``, its object map) as H×W int32 at ``shape``; unreadable
    files and files that are not label maps are skipped with a warning."""
    maps = []
    for path in ([photo.objects] if photo.objects else []) if objects else photo.segments:
        try:
            img = Image.open(path)
            img.load()
        except OSError as exc:
            log.warning("segmentation skipped (unreadable): %s (%s)", path, exc)
            continue
        if img.mode not in ("L", "P", "I", "I;16"):
            log.warning("segmentation skipped: %s has mode %s, expected a label map (L, P or I)", path, img.mode)
            continue
        if img.size != (shape[1], shape[0]):
            img = img.resize((shape[1], shape[0]), Image.NEAREST)
        maps.append(np.asarray(img).astype(np.int32))
    return maps


__all__ = ["ImageReadError", "Photo", "index_photos", "is_photograph", "load_photo", "load_segments", "photo_stats"]
