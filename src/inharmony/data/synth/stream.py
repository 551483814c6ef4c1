"""Composites and authentic twins made inside the training loader, and the same generator writing a fixed set.

Items come in pairs: index ``2p`` is pair ``p``'s composite and ``2p + 1`` its authentic twin (the same crop,
unchanged, with an empty mask), so that with the pair-aware order of the trainer every batch holds a composite
beside its twin and the presence of an object never predicts the label. ``authentic_share`` below one half
replaces some twins by other composites; above one half, some composites by other photos' twins. Pair ``p`` of
epoch ``e`` depends only on ``(seed, e, p)``; a run never repeats a sample.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from inharmony.data.synth.composer import Pair, SynthConfig, make_pair, object_pixels, region_pixels
from inharmony.data.synth.look import random_look
from inharmony.data.synth.neighbours import scene_neighbours
from inharmony.data.synth.photos import Photo, index_photos, load_photo, load_segments
from inharmony.data.transforms import normalize, to_tensor
from inharmony.fileio import atomic_path, save_image, write_text_atomic
from inharmony.imageio import ImageReadError
from inharmony.verdict import read_image_scores

log = logging.getLogger(__name__)


CROP_SCALE = (0.5, 1.0)  # the share of a photo's area that a training crop covers, unless data.crop_scale says


def crop_box(h: int, w: int, rng: np.random.Generator, scale=CROP_SCALE, ratio=(3 / 4, 4 / 3)) -> tuple[int, ...]:
    """A random (top, left, height, width) box covering ``scale`` of the area at an aspect ratio in ``ratio``."""
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
    return 0, 0, h, w


class PhotoCache:
    """Decoded photos (long side ≤ ``max_side``) and their label maps, loaded once per process."""

    def __init__(self, photos: list[Photo], max_side: int = 512) -> None:
        self.photos, self.max_side = photos, max_side
        self._cache: dict[int, tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]] = {}

    def __getitem__(self, j: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """(image, human label maps, object maps) of photo ``j``."""
        if j not in self._cache:
            image = load_photo(self.photos[j].path, self.max_side)
            shape = image.shape[:2]
            self._cache[j] = (image, load_segments(self.photos[j], shape), load_segments(self.photos[j], shape, True))
        return self._cache[j]


def view(
    image: np.ndarray,
    maps: list[np.ndarray],
    size: int | None,
    rng: np.random.Generator | None,
    look: float = 0.0,
    crop_scale: tuple[float, float] = CROP_SCALE,
):
    """A random crop covering ``crop_scale`` of the area (when ``rng`` is given) resized to ``size``×``size`` (when
    given), flipped half the time, under a random global look of strength ``look`` (when ``rng`` is given;
    :mod:`inharmony.data.synth.look`)."""
    h, w = image.shape[:2]
    top, left, ch, cw = crop_box(h, w, rng, crop_scale) if rng is not None else (0, 0, h, w)
    out_wh = (size, size) if size else (cw, ch)
    img = Image.fromarray(image[top : top + ch, left : left + cw]).resize(out_wh, Image.BILINEAR)
    labels = [
        np.asarray(Image.fromarray(m[top : top + ch, left : left + cw]).resize(out_wh, Image.NEAREST)) for m in maps
    ]
    img = np.asarray(img)
    if rng is not None and rng.random() < 0.5:
        img, labels = img[:, ::-1], [m[:, ::-1] for m in labels]
    if rng is not None and look > 0:
        img = random_look(np.ascontiguousarray(img), rng, look)
    return np.ascontiguousarray(img), [np.ascontiguousarray(m) for m in labels]


class SyntheticPairs(Dataset):
    """On-the-fly composites and authentic twins from ``photos`` (see the module docstring).

    Item: ``{"image": 3×S×S normalised, "mask": 1×S×S, "name", "subset": the kind of change or "authentic",
    "authentic": bool}``. ``train=False`` uses the whole photo (no crop, no flip) and ignores the epoch.
    ``delta_e_start`` with ``curriculum_epochs``: the visible-change range moves linearly from ``delta_e_start``
    to ``cfg.delta_e`` over those epochs (strong first, subtle later). ``photo_jitter``: training crops (and the
    photos objects are pasted from) get a random global look of this strength before the change is made.
    ``crop_scale`` (low, high): the share of a photo's area a training crop covers (smaller: more views of each
    photo at more scales, a photo harder to learn by heart).
    ``authentic_weights`` (one per photo, or None: uniform): how the other photos' twins that replace composites
    when ``authentic_share`` is above one half are drawn (hard authentic photos, :func:`hard_authentic_weights`);
    composites and their own twins keep the uniform draw.
    ``neighbours`` (one row of photo indices per photo, or None: uniform): the other photo of a pair (the transfer
    reference and the pasted object's donor) is drawn from its row (:mod:`inharmony.data.synth.neighbours`).
    """

    group_size = 2

    def __init__(
        self,
        photos: list[Photo],
        length: int,
        size: int = 256,
        train: bool = True,
        seed: int = 0,
        authentic_share: float = 0.5,
        cfg: SynthConfig | None = None,
        max_side: int = 512,
        delta_e_start: tuple[float, float] | None = None,
        curriculum_epochs: int = 0,
        photo_jitter: float = 0.0,
        authentic_weights: np.ndarray | None = None,
        crop_scale: tuple[float, float] = CROP_SCALE,
        neighbours: np.ndarray | None = None,
    ) -> None:
        if not photos:
            raise ValueError("SyntheticPairs needs at least one photo")
        if authentic_weights is not None:
            authentic_weights = np.asarray(authentic_weights, np.float64)
            shape_ok = authentic_weights.shape == (len(photos),)
            if not shape_ok or not (authentic_weights >= 0).all() or not authentic_weights.sum() > 0:
                raise ValueError(f"authentic_weights: one weight >= 0 per photo ({len(photos)}), not all 0, expected")
            authentic_weights = authentic_weights / authentic_weights.sum()
        self.authentic_weights = authentic_weights
        if neighbours is not None:
            neighbours = np.asarray(neighbours)
            if neighbours.ndim != 2 or len(neighbours) != len(photos) or neighbours.shape[1] < 1:
                raise ValueError(f"neighbours: one row of >= 1 photo indices per photo ({len(photos)}) expected")
            if neighbours.min() < 0 or neighbours.max() >= len(photos):
                raise ValueError(f"neighbours: indices must lie in [0, {len(photos)})")
        self.neighbours = neighbours
        if not 0 <= authentic_share <= 1:
            raise ValueError(f"authentic_share must be in [0, 1], got {authentic_share}")
        self.photos, self.length, self.size, self.train, self.seed = photos, length - length % 2, size, train, seed
        self.authentic_share, self.cfg = authentic_share, cfg or SynthConfig()
        if not (math.isfinite(photo_jitter) and photo_jitter >= 0):
            raise ValueError(f"photo_jitter must be a finite number >= 0, got {photo_jitter}")
        self.delta_e_start, self.curriculum_epochs = delta_e_start, curriculum_epochs
        self.photo_jitter = float(photo_jitter) if train else 0.0
        try:
            low, high = (float(v) for v in crop_scale)
        except (TypeError, ValueError):
            low, high = math.nan, math.nan
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale must be (low, high) with 0 < low <= high <= 1, got {crop_scale!r}")
        self.crop_scale = (low, high)
        self.cache, self.epoch = PhotoCache(photos, max_side), 0
        self._last: tuple[tuple, tuple] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def config_at(self, epoch: int) -> SynthConfig:
        if not self.train or self.delta_e_start is None or self.curriculum_epochs <= 0:
            return self.cfg
        f = min(1.0, epoch / self.curriculum_epochs)
        lo, hi = (a + f * (b - a) for a, b in zip(self.delta_e_start, self.cfg.delta_e))
        return replace(self.cfg, delta_e=(lo, max(lo, hi)))

    def pair(self, p: int, variant: int = 0) -> tuple[Pair, int]:
        """Pair ``p`` (``variant`` 1: an independent second draw) and the index of its photo."""
        key = (self.epoch if self.train else 0, p, variant)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        rng = np.random.default_rng([self.seed, key[0], p, variant])
        for _ in range(len(self.photos)):
            if variant == 1 and self.authentic_weights is not None:  # another photo's twin: the hard ones more often
                j = int(rng.choice(len(self.photos), p=self.authentic_weights))
            else:
                j = int(rng.integers(len(self.photos)))
            if self.neighbours is None:
                k = int(rng.integers(len(self.photos)))
            else:  # the reference / donor is a photo like this one (scene neighbours)
                k = int(self.neighbours[j, rng.integers(self.neighbours.shape[1])])
            try:
                photo, human, objects = self.cache[j]
                image, maps = self.view(photo, human + objects, rng)
                maps, objects = maps[: len(human)], maps[len(human) :]
                ref_image, ref_maps, ref_objects = self.cache[k]
            except ImageReadError as exc:  # a broken photo costs one draw, never the run
                log.warning("photo skipped: %s", exc)
                continue
            reference = region_pixels(ref_image, ref_maps, rng) if k != j else None
            same_kind = None  # another photo's object, for object regions (only drawn when the recipe asks for it)
            if k != j and self.cfg.object_reference > 0:
                same_kind = object_pixels(ref_image, ref_objects, rng)
            donor = self.donor(k, image.shape[:2], rng) if k != j else None
            cfg = self.config_at(key[0])
            result = (make_pair(image, rng, maps, reference, cfg, objects, donor, same_kind), j)
            self._last = (key, result)
            return result
        raise ImageReadError("no readable photo among the synthetic data's photos")

    def view(self, photo: np.ndarray, maps: list[np.ndarray], rng: np.random.Generator):
        """:func:`view` with this stream's size, look and crops (the whole photo when not training)."""
        return view(photo, maps, self.size, rng if self.train else None, self.photo_jitter, self.crop_scale)

    def donor(self, k: int, shape: tuple[int, int], rng: np.random.Generator):
        """A callable giving photo ``k`` viewed like the pair's photo, at ``shape``, with its human and object maps
        (for the paste kind; only called when that kind is drawn)."""

        def load() -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
            photo, human, objects = self.cache[k]
            image, maps = self.view(photo, human + objects, rng)
            if image.shape[:2] != shape:
                wh = (shape[1], shape[0])
                image = np.asarray(Image.fromarray(image).resize(wh, Image.BILINEAR))
                maps = [np.asarray(Image.fromarray(m).resize(wh, Image.NEAREST)) for m in maps]
            return image, maps[: len(human)], maps[len(human) :]

        return load

    def __getitem__(self, index: int) -> dict:
        p, member = divmod(index, 2)
        rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, p, 7])
        a = self.authentic_share
        if member == 0:
            authentic = rng.random() < max(0.0, 2 * a - 1)
            pair, j = self.pair(p, variant=1 if authentic else 0)
        else:
            rng.random()
            authentic = rng.random() < min(1.0, 2 * a)
            pair, j = self.pair(p, variant=0 if authentic else 2)
        image = pair.twin if authentic else pair.composite
        mask = np.zeros_like(pair.mask) if authentic else pair.mask
        # pair p's composite (member 0) and its twin (member 1) show the same content where the change was made in
        # place: the two carry the same id, which lets a loss compare them pixel by pixel (-1: no such partner)
        in_place = pair.info["kind"] != "paste" and (member == 0) != authentic
        return {
            "image": normalize(to_tensor(image)),
            "mask": torch.from_numpy(mask.astype(np.float32) / 255.0)[None],
            "name": f"synthetic/{self.photos[j].path.stem}/{index}",
            "subset": "authentic" if authentic else pair.info["kind"],
            "authentic": authentic,
            "content": p if in_place else -1,
        }


def hard_authentic_weights(photos: list[Photo], scores_csv: str | Path, share: float = 0.5) -> np.ndarray:
    """Per-photo draw weights for the extra authentic twins: ``1 - share`` of the draws uniform, ``share`` in
    proportion to a model's image score on the photo (``scores_csv``: the ``summary.csv`` of ``inharmony predict``
    on the photo folder, columns ``file`` and ``score``), so that authentic photos the model flags come back more
    often as authentic. Photos the file does not score get the uniform part only."""
    if not 0 <= share <= 1:
        raise ValueError(f"hard authentic share must be in [0, 1], got {share}")
    scores = read_image_scores(scores_csv)
    score = np.array([scores.get(p.path.resolve(), 0.0) for p in photos])
    if not score.any():
        raise ValueError(f"{scores_csv}: scores none of the {len(photos)} training photos")
    return (1 - share) / len(photos) + share * score / score.sum()


def build_synthetic(
    photos_dir: str | Path,
    train_length: int,
    val_length: int,
    size: int,
    seed: int,
    **kwargs,
) -> tuple[SyntheticPairs, SyntheticPairs]:
    """Train and validation streams over the train and test photos of ``photos_dir``."""
    test_fraction = kwargs.pop("test_fraction", 0.1)
    photos, report = index_photos(photos_dir, test_fraction, objects=kwargs.pop("objects", None))
    log.info("photos under %s: %s", photos_dir, report)
    train = [p for p in photos if p.split == "train"]
    test = [p for p in photos if p.split == "test"] or train
    hard = kwargs.pop("hard_authentic", None)
    if hard:
        kwargs["authentic_weights"] = hard_authentic_weights(train, hard)
    n_neighbours, embeddings = kwargs.pop("scene_neighbours", 0), kwargs.pop("photo_embeddings", None)
    if n_neighbours:
        kwargs["neighbours"] = scene_neighbours(train, photos_dir, embeddings, n_neighbours)
    train_only = ("delta_e_start", "curriculum_epochs", "photo_jitter", "authentic_weights", "crop_scale", "neighbours")
    val_kwargs = {k: v for k, v in kwargs.items() if k not in train_only}
    if val_kwargs.get("cfg") is not None:  # validation keeps the unfiltered generator: comparable across recipes
        val_kwargs["cfg"] = replace(val_kwargs["cfg"], min_gain=None, paste_harmonise=0.0, object_reference=0.0)
    return (
        SyntheticPairs(train, train_length, size, train=True, seed=seed, **kwargs),
        SyntheticPairs(test, val_length, size, train=False, seed=seed + 1, **val_kwargs),
    )


MANIFEST_FIELDS = [
    "composite",
    "mask",
    "real",
    "split",
    "photo",
    "kind",
    "method",
    "region_source",
    "reference",
    "area",
    "delta_e",
    "delta_l",
    "delta_chroma",
    "contrast_gain",
    "feathered",
    "outlined",
    "harmonised",
    "harmonise_share",
    "jpeg_quality",
]


def write_pairs(
    photos_dir: str | Path,
    out: str | Path,
    n: int,
    seed: int = 0,
    max_side: int = 512,
    test_fraction: float = 0.1,
    subset: str = "Synthetic",
    cfg: SynthConfig | None = None,
    progress=None,
    objects: str | Path | None = None,
    scene_neighbours_n: int = 0,
    photo_embeddings: str | Path | None = None,
) -> dict[str, int]:
    """Write ``n`` composites with their authentic twins (whole photos, long side ≤ ``max_side``) under
    ``out/<subset>/`` in the iHarmony4 layout (the twin is the pair's real image), with list files per split and
    ``out/manifest.csv`` (kind, method, region source, measured change). Pair ``i`` depends only on
    ``(seed, i)``; half the pairs come from test photos, half from train photos, so both splits are covered.
    ``scene_neighbours_n`` with ``photo_embeddings``: the other photo of a pair is one of that many scene
    neighbours within its split (:mod:`inharmony.data.synth.neighbours`)."""
    out = Path(out)
    photos, report = index_photos(photos_dir, test_fraction, objects=objects)
    by_split = {s: [p for p in photos if p.split == s] for s in ("train", "test")}

    def rows_of(ps: list[Photo]) -> np.ndarray | None:
        return scene_neighbours(ps, photos_dir, photo_embeddings, scene_neighbours_n) if scene_neighbours_n else None

    kw = {"train": False, "seed": seed, "authentic_share": 0.5, "cfg": cfg, "max_side": max_side}
    streams = {s: SyntheticPairs(ps, 2, None, neighbours=rows_of(ps), **kw) for s, ps in by_split.items() if ps}
    base, rows = out / subset, []
    lists: dict[str, list[str]] = {"train": [], "test": []}
    for i in range(n) if progress is None else progress(range(n)):
        split = "test" if (i % 2 == 0 and "test" in streams) or "train" not in streams else "train"
        stream = streams[split]
        pair, j = stream.pair(i)
        name = f"p{i:06d}"
        comp, mask, real = f"composite_images/{name}_1_1.jpg", f"masks/{name}_1.png", f"real_images/{name}.jpg"
        save_image(base / comp, pair.composite)
        save_image(base / mask, pair.mask)
        save_image(base / real, pair.twin)
        lists[split].append(f"{name}_1_1.jpg")
        rows.append(
            {
                "composite": f"{subset}/{comp}",
                "mask": f"{subset}/{mask}",
                "real": f"{subset}/{real}",
                "split": split,
                "photo": str(stream.photos[j].path),
                **pair.info,
            }
        )
    for split, names in lists.items():
        write_text_atomic(base / f"{subset}_{split}.txt", "".join(f"{x}\n" for x in names))
    with atomic_path(out / "manifest.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return {"train": len(lists["train"]), "test": len(lists["test"]), **{f"photos_{k}": v for k, v in report.items()}}
