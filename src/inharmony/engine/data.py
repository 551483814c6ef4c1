"""Build the datasets a run config names."""

from __future__ import annotations

from torch.utils.data import Dataset

from inharmony.data.dataset import CompositeDataset
from inharmony.data.iharmony4 import Sample, make_iharmony4_dataset
from inharmony.data.le50 import validation_draw


def split_train_val(cfg: dict, seed: int) -> tuple[list[Sample], list[Sample]]:
    data = cfg["data"]
    if not data["root"]:
        raise ValueError("config data.root is not set (a dataset root in the iHarmony4 layout)")
    # missing files are not fatal here: the dataset skips unreadable samples and the trainer counts them
    kw = {"subsets": data["subsets"], "check_files": False}
    train = make_iharmony4_dataset(data["root"], "train", list_file=data["train_list"], **kw)
    if data["val_list"]:
        val = make_iharmony4_dataset(data["root"], "train", list_file=data["val_list"], **kw)
        overlap = {s.name for s in val} & {s.name for s in train}
        if overlap:
            raise ValueError(f"{len(overlap)} validation entries are also in the training list, e.g. {min(overlap)}")
        return train, val
    keep, held = validation_draw([s.name for s in train], 0.1, seed)
    held_set = set(held)
    return [s for s in train if s.name not in held_set], [s for s in train if s.name in held_set]


def build_datasets(cfg: dict) -> tuple[Dataset, Dataset]:
    data, seed = cfg["data"], cfg["train"]["seed"]
    if data["kind"] == "iharmony4":
        train, val = split_train_val(cfg, seed)
        return CompositeDataset(train, data["size"], train=True, seed=seed), CompositeDataset(val, data["size"])
    if data["kind"] == "synthetic":
        from inharmony.data.synth.composer import SynthConfig
        from inharmony.data.synth.stream import build_synthetic

        if not data["photos"]:
            raise ValueError("config data.photos is not set (a folder of photos for synthetic composites)")
        cfg_synth = SynthConfig(
            kinds=dict(data["kinds"]),
            delta_e=tuple(data["delta_e"]),
            object_share=float(data["object_share"]),
            outline_share=float(data["outline_share"]),
            min_gain=None if data["min_gain"] is None else float(data["min_gain"]),
            paste_harmonise=float(data["paste_harmonise"]),
            object_reference=float(data["object_reference"]),
        )
        return build_synthetic(
            data["photos"],
            data["train_length"],
            data["val_length"],
            data["size"],
            seed,
            authentic_share=data["authentic_share"],
            cfg=cfg_synth,
            max_side=data["max_side"],
            test_fraction=data["test_fraction"],
            delta_e_start=tuple(data["delta_e_start"]) if data["delta_e_start"] else None,
            curriculum_epochs=data["curriculum_epochs"],
            photo_jitter=float(data["photo_jitter"]),
            crop_scale=tuple(data["crop_scale"]),
            objects=data["objects"],
            hard_authentic=data["hard_authentic"],
            scene_neighbours=int(data["scene_neighbours"]),
            photo_embeddings=data["photo_embeddings"],
        )
    if data["kind"] == "synthetic_v1":
        from inharmony.data.synth import SyntheticDataset
        from inharmony.data.synth.generator import list_photos

        if not data["photos"]:
            raise ValueError("config data.photos is not set (a folder of photos for synthetic composites)")
        photos = list_photos(data["photos"])
        val_photos = list_photos(data["val_photos"]) if data["val_photos"] else photos
        kw = {"size": data["size"], "cutouts_dir": data["cutouts"]}
        return (
            SyntheticDataset(photos, data["train_length"], train=True, seed=seed, **kw),
            SyntheticDataset(val_photos, data["val_length"], train=False, seed=seed + 1, **kw),
        )
    raise ValueError(f"unknown data.kind {data['kind']!r}; valid: iharmony4, synthetic, synthetic_v1")
