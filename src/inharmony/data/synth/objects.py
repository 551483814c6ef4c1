"""Object maps for photos without human segmentations, from a salient-object model.

iHarmony4's regions are mostly whole objects; the Felzenszwalb segments used for photos without a segmentation
are parts and surfaces. A model that finds salient objects (the shipped v1 model is one) gives object regions,
snapped to the photo's own edges (Felzenszwalb segments, majority vote): each photo gets a label map
(1 = background, 2… = connected object components of at least ``min_area``) under ``out`` at the photo's relative
path with a ``.png`` suffix, read back by ``index_photos(..., objects=out)``.

The maps of every training recipe since session 1 come from the shipped v1 model (its salient-object masks mark an
object in 953 of the 964 photos without segmentations). Later defaults mark far fewer (v2.2: 111), so the v1 weights
are kept in the repository (:data:`SALIENT_V1`) and are the default: the same command makes the same maps whatever
model ships.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.segmentation import felzenszwalb

from inharmony.data.synth.photos import index_photos
from inharmony.fileio import atomic_path
from inharmony.imageio import ImageReadError

log = logging.getLogger(__name__)

# the shipped v1 model (commit 5c2d2b0), relative to the repository root where the documented commands run
SALIENT_V1 = "checkpoints/salient_v1.safetensors"


def snap_to_segments(mask: np.ndarray, image: np.ndarray, work_side: int = 256) -> np.ndarray:
    """Align a coarse bool mask with the photo's edges: each Felzenszwalb segment of ``image`` (H×W×3 uint8)
    becomes object when more than half of it is inside ``mask``. When the segments are too coarse for that (the
    snapped mask overlaps the original by IoU < 0.5), the original mask is kept."""
    h, w = mask.shape
    scale = min(1.0, work_side / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    segments = felzenszwalb(small, scale=100, sigma=0.8, min_size=30)
    inside = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.BILINEAR)) / 255.0
    share = np.bincount(segments.ravel(), inside.ravel()) / np.bincount(segments.ravel())
    snapped = (share > 0.5)[segments]
    snapped = np.asarray(Image.fromarray(snapped.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)) > 127
    iou = (snapped & mask).sum() / max(1, (snapped | mask).sum())
    return snapped if iou >= 0.5 else mask


def object_labels(
    probability: np.ndarray, threshold: float = 0.5, min_area: float = 0.01, image: np.ndarray | None = None
) -> np.ndarray:
    """H×W probabilities → H×W uint8 labels: 1 background, 2… object components covering ≥ ``min_area``; with
    ``image``, the mask is first snapped to the photo's segments (:func:`snap_to_segments`)."""
    mask = probability > threshold
    if image is not None:
        mask = snap_to_segments(mask, image)
    components, n = ndimage.label(mask)
    labels = np.ones(probability.shape, np.uint8)
    if n:
        areas = np.bincount(components.ravel(), minlength=n + 1)[1:] / components.size
        for k, i in enumerate(np.flatnonzero(areas >= min_area)[:250]):
            labels[components == i + 1] = k + 2
    return labels


def write_object_maps(
    photos_dir: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    threshold: float = 0.5,
    min_area: float = 0.01,
    progress=None,
) -> dict[str, int]:
    """Write an object map for every usable photo of ``photos_dir`` that has no human segmentation; ``model``
    (default :data:`SALIENT_V1`) marks the objects."""
    from inharmony.inference import Predictor

    photos_dir, out = Path(photos_dir), Path(out)
    if model is None:
        model = SALIENT_V1
        if not Path(model).is_file():
            raise FileNotFoundError(
                f"object maps: no salient-object model at {SALIENT_V1} (the shipped v1 model, kept in the "
                "repository): run from the repository root or pass --model FILE"
            )
    photos, _ = index_photos(photos_dir, test_fraction=0.0)
    todo = [p for p in photos if not p.segments]
    predictor = Predictor.from_checkpoint(model)
    counts = {"written": 0, "with_object": 0, "failed": 0}
    for photo in todo if progress is None else progress(todo):
        try:
            image = np.asarray(predictor.load(photo.path))
            labels = object_labels(predictor.predict(image).probability, threshold, min_area, image)
        except ImageReadError as exc:
            log.warning("object map skipped: %s", exc)
            counts["failed"] += 1
            continue
        target = out / photo.path.relative_to(photos_dir).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            Image.fromarray(labels, mode="L").save(tmp, format="PNG")
        counts["written"] += 1
        counts["with_object"] += int(labels.max() > 1)
    return counts
