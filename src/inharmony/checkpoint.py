"""Model files: safetensors with a format version, the model name and config in the metadata.

``save_model`` writes atomically; ``load_model`` rebuilds the model from the file alone and loads
strictly, reporting missing and unexpected keys. No pickle is ever executed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inharmony.fileio import atomic_path

FORMAT_VERSION = "1"


class CheckpointError(ValueError):
    """A model file that cannot be used: missing, truncated, foreign or mismatched."""


def save_model(model: nn.Module, path: str | Path, half: bool = False, info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (built by ``create_model``) to ``path`` (.safetensors); ``half`` stores fp16."""
    from safetensors.torch import save_file

    if not hasattr(model, "model_name"):
        raise CheckpointError("only models built by inharmony.create_model can be saved (no model_name attribute)")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    metadata = {
        "format": "inharmony",
        "format_version": FORMAT_VERSION,
        "model_name": model.model_name,
        "model_config": json.dumps(model.model_config, sort_keys=True),
        "info": json.dumps(info or {}, sort_keys=True),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path


def read_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Return ``(metadata, state_dict)`` of a model file, with clear errors for bad files."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = dict(fh.metadata() or {})
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise CheckpointError(f"{path} is not a readable safetensors model file ({exc})") from exc
    if metadata.get("format") != "inharmony":
        raise CheckpointError(f"{path} is not an inharmony model file (metadata 'format' missing)")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {metadata.get('format_version')!r}; this inharmony reads {FORMAT_VERSION!r}"
        )
    metadata["model_config"] = json.loads(metadata["model_config"])
    metadata["info"] = json.loads(metadata.get("info", "{}"))
    return metadata, state


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model a file describes and load its weights strictly (fp16 files are upcast)."""
    from inharmony.models import create_model

    metadata, state = read_model_file(path)
    model = create_model(metadata["model_name"], **metadata["model_config"])
    reference = model.state_dict()
    state = {k: v.to(reference[k].dtype) if k in reference else v for k, v in state.items()}
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match {metadata['model_name']}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.load_state_dict(state, strict=True)
    model.model_info = metadata["info"]
    return model.to(map_location).eval()


def graft_weights(model: nn.Module, path: str | Path, prefix: str) -> list[str]:
    """Copy the weights whose names start with ``prefix`` from a model file into ``model`` (same names and
    shapes, e.g. a branch trained alone into the model that carries it); returns the names copied."""
    _, state = read_model_file(path)
    branch = {k: v for k, v in state.items() if k.startswith(prefix)}
    reference = model.state_dict()
    wanted = sorted(k for k in reference if k.startswith(prefix))
    if not branch or not wanted:
        raise CheckpointError(f"{path} or the target model has no weights named {prefix}* to graft")
    if sorted(branch) != wanted or any(branch[k].shape != reference[k].shape for k in wanted):
        raise CheckpointError(f"the {prefix}* weights of {path} do not fit the target model's (names or shapes)")
    model.load_state_dict({**reference, **{k: v.to(reference[k].dtype) for k, v in branch.items()}})
    return wanted


def interpolate_models(start: str | Path, tuned: str | Path, alpha: float) -> nn.Module:
    """Weight-space interpolation of a fine-tune with its start (WiSE-FT, Wortsman et al., CVPR 2022): every
    floating-point tensor is ``(1 - alpha) · start + alpha · tuned`` (BatchNorm statistics included), counters
    come from ``tuned``. Both files must hold the same architecture and config; ``alpha`` 0 gives the start's
    weights, 1 the fine-tune's. The result carries the fine-tune's info (less the figures measured on it) plus where it came from."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"interpolate_models: alpha must be in [0, 1], got {alpha}")
    meta_s, state_s = read_model_file(start)
    model = load_model(tuned)
    if meta_s["model_name"] != model.model_name or meta_s["model_config"] != model.model_config:
        raise CheckpointError(
            f"{start} ({meta_s['model_name']}) and {tuned} ({model.model_name}) are not the same architecture and "
            "config: only a fine-tune and its start can be interpolated"
        )
    state = model.state_dict()
    if sorted(state_s) != sorted(state) or any(state_s[k].shape != state[k].shape for k in state):
        raise CheckpointError(f"{start} and {tuned} do not hold the same weight names and shapes")
    mixed = {
        k: torch.lerp(state_s[k].to(v.dtype), v, alpha) if v.is_floating_point() else v for k, v in state.items()
    }
    model.load_state_dict(mixed, strict=True)
    model.model_info = {
        **{k: v for k, v in model.model_info.items() if k not in ("scores", "val")},
        "interpolation": {"start": str(start), "tuned": str(tuned), "alpha": alpha},
    }
    return model
