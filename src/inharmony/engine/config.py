"""Run configuration: YAML defaults, ``section.key=value`` overrides, the resolved file saved per run."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from inharmony.fileio import write_text_atomic

DEFAULTS: dict[str, Any] = {
    # init: warm-start weights file; graft: {prefix: model file} weights of branches trained alone, copied after init
    "model": {"name": "dirl_resnet34", "encoder_weights": None, "init": None, "graft": None},
    "data": {
        # "iharmony4", "synthetic" (composites + authentic twins made on the fly from real regions of data.photos)
        # or "synthetic_v1" (the first generator: segment unions, shapes and pasted cut-outs, no twins)
        "kind": "iharmony4",
        "root": None,
        "train_list": None,  # root-relative list file; default: the train split's own lists
        "val_list": None,  # default: a seeded 10 % draw from the training entries, kept out of training
        "subsets": None,
        "size": 256,
        "photos": None,
        "val_photos": None,
        "cutouts": None,
        "train_length": 2000,
        "val_length": 200,
        "authentic_share": 0.5,  # synthetic: share of authentic twins (empty masks) among the samples
        # synthetic: share of each kind of change; paste = another photo's object, its twin that photo
        "kinds": {"transfer": 0.5, "retouch": 0.3, "lighting": 0.2, "paste": 0.0},
        "delta_e": [4.0, 40.0],  # synthetic: visible change (mean ΔE in the region) at the end of the curriculum
        "delta_e_start": None,  # synthetic: the range at epoch 0 (e.g. [10, 40]: strong first), reached linearly
        "curriculum_epochs": 0,  # synthetic: epochs over which delta_e_start moves to delta_e
        "test_fraction": 0.1,  # synthetic: share of photos (besides images/test/) kept for validation/test only
        "max_side": 512,  # synthetic: photos are decoded once at this long side
        "objects": None,  # synthetic: object maps ('inharmony data objects') for photos without segmentations
        "object_share": 0.5,  # synthetic: how often such a photo's region comes from its object map
        # synthetic training: how often such an object region, recoloured by transfer, takes its statistics from another
        # photo's object (same kind of thing, as HCOCO's same-category transfer) instead of any region of it
        "object_reference": 0.0,
        "outline_share": 0.0,  # synthetic: how often a region is traced as an annotator's polygon (seams)
        "photo_jitter": 0.0,  # synthetic training: strength of a random global look of each crop (0: none)
        "crop_scale": [0.5, 1.0],  # synthetic training: the share of a photo's area that a crop covers (low, high)
        "min_gain": None,  # synthetic training: in-place changes make the region stand out this much more (ΔE)
        "paste_harmonise": 0.0,  # synthetic training: share of pasted objects then partly harmonised
        # synthetic training: inharmony predict's summary.csv on the photos; with authentic_share above one half,
        # the other photos' twins are drawn half uniformly, half by that model's score (its false alarms more often)
        "hard_authentic": None,
        # synthetic training: the other photo of a pair (transfer reference, paste donor) is one of this many
        # photos nearest in appearance ('inharmony data embed' writes photo_embeddings); 0: any photo
        "scene_neighbours": 0,
        "photo_embeddings": None,
    },
    "train": {
        "epochs": 60,
        "batch_size": 8,
        "lr": 1.0e-4,
        "new_lr_mult": 1.0,  # learning-rate factor for weights a warm start (model.init) did not provide
        "encoder_lr_mult": 1.0,  # learning-rate factor for the (pretrained) encoder; 0 freezes it
        # keep the encoder's BatchNorm statistics as they came (small batches); null: only when it is frozen
        "encoder_bn_frozen": None,
        # only the encoder's first N stages learn (encoder.stages.0 .. N-1; the rest stay frozen); null: all
        "encoder_stages": None,
        # only the modules named here learn (e.g. [verdict_head, verdict_lowlevel]); the rest is frozen, its
        # BatchNorm statistics included; null: everything the settings above leave learning
        "trainable": None,
        # the validation figure that picks best.safetensors: "IoU" (the localiser) or "auroc" (the image score)
        "select": "IoU",
        "weight_decay": 1.0e-4,
        # decay toward the start rather than toward zero (decoupled L2-SP): after each step every weight that
        # model.init gave moves lr × anchor_decay of its way back to its starting value; 0: off
        "anchor_decay": 0.0,
        # keep the learning encoder's maps near those of the encoder model.init gave, on the same input (function
        # space, engine/feature_anchor.py): this weight × their mean relative squared difference joins the loss; 0: off
        "feature_anchor": 0.0,
        "milestones": [30, 40, 50, 55],
        "gamma": 0.5,
        "val_every": 3,
        "val_every_early": 5,  # before the first milestone, as the reference
        "validate": True,  # false: never validate (no best.safetensors), e.g. when the caller evaluates itself
        # data loader processes: "auto" = the cores less one (shared by torchrun's local processes, ≤ 16), or a number
        "ema_decay": None,  # e.g. 0.999: validate, keep and ship an exponential moving average of the weights
        "workers": "auto",
        "max_bad_share": 0.01,  # stop when more than this share of an epoch's samples cannot be read
        "seed": 42,
        "amp": True,  # mixed precision on GPU (bfloat16 where supported)
        # each step's batch resized by one of these factors (e.g. [0.8, 1.0, 1.2], drawn per step; the
        # test-time scale_test factors), each side a multiple of 32; null: the data's size only
        "scales": None,
        "max_steps": None,  # stop after this many optimiser steps (smoke tests)
        "max_minutes": None,  # stop (state saved, resumable) after this many minutes of this call: chunked runs
        "checkpoint_every": 200,  # also save mid-epoch every N steps
        "state_max_mib": None,  # split last.pt into files of at most this many MiB (e.g. 15 for 16 MiB transfers)
        "log_every": 50,  # log a line every N steps when no progress bar is shown (not a terminal)
        "collapse_patience": 2,  # stop when composites get empty predictions this many validations in a row
        "device": "auto",
        "tensorboard": False,
    },
    # verdict: models with a verdict head; pair: its ranking of each composite above its own authentic twin
    # dense_pair: the localiser's per-pixel ranking of each composite above its twin of the same content
    # region_verdict: the verdict head also asked about the true region (each in-place twin about its composite's)
    # colour_shift: a shift head (model *_shift) regresses how each pixel was changed (composite − twin, in place)
    "loss": {
        "lambda_att": 1.0,
        "ssim": 1.0,
        "iou": 1.0,
        "verdict": 1.0,
        "pair": 0.0,
        "dense_pair": 0.0,
        "region_verdict": 0.0,
        "colour_shift": 0.0,
    },
    "output": {"dir": "runs", "name": "dirl"},
}


def deep_merge(base: dict, update: dict, path: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        where = f"{path}{key}"
        if key not in out:
            raise ValueError(f"unknown config key {where!r}; valid keys here: {', '.join(sorted(base))}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"config key {where!r} must be a mapping")
            out[key] = deep_merge(out[key], value, where + ".")
        else:
            out[key] = value
    return out


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, but numbers such as ``1e-3`` or ``3E+2`` (YAML 1.2 floats, without a dot)
    are floats rather than strings, as anyone writing ``train.lr=1e-3`` expects."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def parse_override(item: str) -> dict:
    """``"train.lr=1e-3"`` → ``{"train": {"lr": 0.001}}`` (values parsed as YAML)."""
    if "=" not in item:
        raise ValueError(f"override {item!r} must look like section.key=value")
    key, raw = item.split("=", 1)
    value = load_yaml(raw)
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    return value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict[str, Any]:
    """DEFAULTS ← YAML file ← overrides, with unknown keys refused (naming the file or override)."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        loaded = load_yaml(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a YAML mapping at the top level")
        try:
            config = deep_merge(config, loaded)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
    for item in overrides or []:
        config = deep_merge(config, parse_override(item))
    return config


def save_config(config: dict, path: str | Path) -> None:
    write_text_atomic(path, yaml.safe_dump(config, sort_keys=False))


def new_run_dir(base: str | Path, name: str) -> Path:
    """``base/name/version_<k>`` with the next free ``k``."""
    parent = Path(base) / name
    parent.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name.split("_")[1]) for p in parent.glob("version_*") if p.name.split("_")[1].isdigit()]
    run = parent / f"version_{max(taken, default=-1) + 1}"
    run.mkdir()
    return run
