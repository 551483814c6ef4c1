"""Scene neighbours: draw a composite's other photo (transfer reference, pasted object's donor) from photos like it.

Real composites are rarely made from two unrelated photos: HCOCO takes the colour statistics of an object of the
same category, and people paste an object into a scene it could plausibly be in, so the light it brings differs in
a plausible way. The generator's default draws the other photo uniformly: a portrait's region gets the statistics
of a sky, an indoor object lands on a sunlit beach, and what separates a composite from its twin is then often an
implausible colour rather than light that does not match. With ``neighbours`` the other photo is one of the
``n`` photos of the same split whose ImageNet features are nearest (cosine similarity of the pooled last feature
map of torchvision's ImageNet MobileNetV2: beach scenes with people find beach scenes with people, portraits find
portraits, dogs find dogs).

``inharmony data embed`` computes the features once per photo folder (under a minute for 1,464 photos on 2 cores);
the stream finds the neighbours among its own photos when it is built.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inharmony.data.synth.photos import Photo, index_photos
from inharmony.data.transforms import normalize, to_tensor
from inharmony.fileio import atomic_path
from inharmony.imageio import ImageReadError, read_image

log = logging.getLogger(__name__)


def photo_key(path: Path, root: Path) -> str:
    """How a photo is named in an embeddings file: its path relative to the photo folder, with forward slashes."""
    return path.relative_to(root).as_posix()


@torch.no_grad()
def embed_photos(photos_dir: str | Path, out: str | Path, weights: str | Path, size: int = 224, progress=None):
    """Write ``out`` (.npz: ``keys``, photo paths relative to ``photos_dir``; ``embeddings``, L2-normalised float16
    rows) for every usable photo: torchvision's MobileNetV2 with the ImageNet ``weights`` file (torchvision's
    ``mobilenet_v2-b0353104.pth``) on the photo resized to ``size``², its last feature map averaged."""
    from torchvision.models import mobilenet_v2

    from inharmony.models.encoders import load_state_dict_file

    net = mobilenet_v2(weights=None)
    try:
        net.load_state_dict(load_state_dict_file(weights), strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{weights}: not a torchvision MobileNetV2 state dict ({str(exc)[:200]})") from exc
    features = net.features.eval()
    photos_dir = Path(photos_dir)
    photos, _ = index_photos(photos_dir, test_fraction=0.0)
    keys, rows, failed = [], [], 0
    for photo in photos if progress is None else progress(photos):
        try:
            image = read_image(photo.path).resize((size, size), Image.BILINEAR)
        except ImageReadError as exc:
            log.warning("embedding skipped: %s", exc)
            failed += 1
            continue
        vector = features(normalize(to_tensor(np.asarray(image)))[None]).mean((2, 3))[0]
        rows.append(torch.nn.functional.normalize(vector, dim=0).numpy())
        keys.append(photo_key(photo.path, photos_dir))
    if not rows:
        raise ValueError(f"photo embeddings: no readable photo under {photos_dir}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, keys=np.array(keys), embeddings=np.stack(rows).astype(np.float16))
    return {"embedded": len(rows), "failed": failed}


def scene_neighbours(photos: list[Photo], root: str | Path, embeddings: str | Path | None, n: int) -> np.ndarray:
    """``len(photos)`` × ``n`` indices into ``photos``: each photo's ``n`` nearest other photos by the cosine
    similarity of their rows in ``embeddings`` (``embed_photos``' file for the folder ``root``)."""
    if n < 1:
        raise ValueError(f"scene neighbours: n must be >= 1, got {n}")
    if not embeddings:
        raise ValueError(
            "scene neighbours need a photo-embeddings file (data.photo_embeddings or --embeddings; 'inharmony data "
            "embed' writes it)"
        )
    if len(photos) < 2:
        raise ValueError("scene neighbours need at least two photos")
    try:
        with np.load(embeddings) as data:
            index = {str(k): i for i, k in enumerate(data["keys"])}
            table = data["embeddings"].astype(np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{embeddings}: not a photo-embeddings file ('inharmony data embed'): {exc}") from exc
    root = Path(root)
    keys = [photo_key(p.path, root) for p in photos]
    missing = [k for k in keys if k not in index]
    if missing:
        raise ValueError(
            f"{embeddings} has no embedding for {len(missing)} of {len(keys)} photos (e.g. {missing[0]}): "
            f"rerun 'inharmony data embed --photos {root}'"
        )
    vectors = table[[index[k] for k in keys]]
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    n = min(n, len(photos) - 1)
    return np.argsort(-similarity, axis=1, kind="stable")[:, :n]
