"""Model files: safetensors with a format version, the model name and config in the metadata.

``save_model`` writes atomically; ``load_model`` rebuilds the model from the file alone and loads
strictly, reporting missing and unexpected keys. No pickle is ever executed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from inharmony.fileio import atomic_path

FORMAT_VERSION = "1"


class CheckpointError(ValueError):
    """A model file that cannot be used: missing, truncated, foreign or mismatched."""


def save_model(model: nn.Module, path: str | Path, half: bool = False, info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (built by ``create_model``) to ``path`` (.safetensors); ``half`` stores fp16."""
    if not hasattr(model, "model_name"):
        raise CheckpointError("only models built by inharmony.create_model can be saved (no model_name attribute)")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return _write_file(state, path, model.model_name, model.model_config, info or {})


def _write_file(state: dict, path: str | Path, model_name: str, model_config: dict, info: dict) -> Path:
    """Write tensors and the metadata every model file carries, atomically."""
    from safetensors.torch import save_file

    metadata = {
        "format": "inharmony",
        "format_version": FORMAT_VERSION,
        "model_name": model_name,
        "model_config": json.dumps(model_config, sort_keys=True),
        "info": json.dumps(info, sort_keys=True),
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


def rewrite_info(source: str | Path, target: str | Path, updates: dict[str, Any], drop: tuple[str, ...] = ()) -> Path:
    """Copy a model file to ``target`` with ``updates`` merged into its info and the keys ``drop`` removed; the
    tensors are written back unchanged (same dtype, same bits). ``target`` may be ``source``; written atomically."""
    metadata, state = read_model_file(source)
    info = {**{k: v for k, v in metadata["info"].items() if k not in drop}, **updates}
    return _write_file(state, target, metadata["model_name"], metadata["model_config"], info)


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


def average_models(files: list[str | Path], weights: list[float] | None = None) -> nn.Module:
    """Weighted average of the weights of models that share one architecture and config, e.g. fine-tunes from
    one start and that start (a model soup, Wortsman et al., ICML 2022): every floating-point tensor is
    ``sum(w_i · file_i)`` (BatchNorm statistics included), counters come from the last file. ``weights``: one
    per file, non-negative, summing to 1 (default: equal). The result carries the last file's info (less the
    figures measured on it) plus the mixture."""
    if not files:
        raise ValueError("average_models: no model files given")
    weights = [1.0 / len(files)] * len(files) if weights is None else [float(w) for w in weights]
    if len(weights) != len(files) or min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"average_models: need one non-negative weight per file, summing to 1; got {weights}")
    models = [load_model(f) for f in files]  # each loads strictly into the architecture its file names
    model = models[-1]
    for path, other in zip(files[:-1], models[:-1]):
        if other.model_name != model.model_name or other.model_config != model.model_config:
            raise CheckpointError(
                f"{path} ({other.model_name}) and {files[-1]} ({model.model_name}) are not the same architecture "
                "and config: only models of one architecture can be averaged"
            )
    states = [m.state_dict() for m in models]
    mixed = {
        k: sum(w * s[k].double() for w, s in zip(weights, states)).to(v.dtype) if v.is_floating_point() else v
        for k, v in states[-1].items()
    }
    model.load_state_dict(mixed, strict=True)
    model.model_info = {
        **{k: v for k, v in model.model_info.items() if k not in ("scores", "val")},
        "average": {"files": [str(f) for f in files], "weights": weights},
    }
    return model


def interpolate_models(start: str | Path, tuned: str | Path, alpha: float) -> nn.Module:
    """Weight-space interpolation of a fine-tune with its start (WiSE-FT, Wortsman et al., CVPR 2022):
    ``(1 - alpha) · start + alpha · tuned``, by :func:`average_models`; ``alpha`` 0 gives the start's weights, 1
    the fine-tune's."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"interpolate_models: alpha must be in [0, 1], got {alpha}")
    return average_models([start, tuned], [1.0 - alpha, alpha])


def weight_distance(start: str | Path, other: str | Path) -> dict[str, float]:
    """How far ``other``'s learned weights lie from ``start``'s (two model files of one architecture and config,
    test-time views aside): the L2 norm of the difference over every learned tensor (BatchNorm statistics and
    counters left out), that norm relative to ``start``'s, and the share of the squared difference in the encoder."""
    from inharmony.models.registry import TEST_TIME_OPTIONS

    models = [load_model(start), load_model(other)]
    built = [(m.model_name, {k: v for k, v in m.model_config.items() if k not in TEST_TIME_OPTIONS}) for m in models]
    if built[0] != built[1]:  # the same weights seen through other test-time views (a mirror pass) may be compared
        raise CheckpointError(f"{start} and {other} are not the same architecture and config: no weight distance")
    learned = [{k: p.detach() for k, p in m.named_parameters()} for m in models]
    squares = {k: float((learned[1][k].double() - v.double()).pow(2).sum()) for k, v in learned[0].items()}
    total = sum(squares.values())
    norm = sum(float(v.double().pow(2).sum()) for v in learned[0].values()) ** 0.5
    encoder = sum(v for k, v in squares.items() if k.startswith("encoder."))
    return {"distance": total**0.5, "relative": total**0.5 / norm, "encoder_share": encoder / total if total else 0.0}


def ensemble_models(
    files: list[str | Path],
    weights: list[float] | None = None,
    combine: str = "mean",
    flip_test: bool | None = None,
    mask_member: int | None = None,
    shared_encoder: bool = False,
) -> nn.Module:
    """One model answering with the combined outputs of the models in ``files`` (any architectures that take the
    same input; :class:`inharmony.models.ensemble.Ensemble`), each with its own weights unchanged. ``weights``:
    the members' shares of a ``"mean"`` (default equal); ``flip_test``: every member's mirror pass on or off
    (``None``: as each file was made); ``mask_member``: the index of the one file whose mask the ensemble keeps
    (the others only add to the verdict); ``shared_encoder``: the first file's encoder runs once for all (every
    file's encoder, colour mapping included, must equal it). The result carries the first file's inference size
    and the members' files; the figures and calibrations measured on the members are not the ensemble's."""
    from inharmony.models import create_model
    from inharmony.models.ensemble import member_spec

    if len(files) < 2:
        raise ValueError(f"ensemble_models: an ensemble needs at least two model files, got {len(files)}")
    members = [load_model(f) for f in files]
    for path, member in zip(files, members):
        if getattr(member, "model_name", None) == "ensemble":
            raise CheckpointError(f"{path} is itself an ensemble: list its member files instead")
    sizes = {m.model_info.get("size") for m in members} - {None}
    if len(sizes) > 1:
        raise CheckpointError(f"ensemble_models: the files were made for different input sizes {sorted(sizes)}")
    if shared_encoder:
        _check_shared_encoder(files, members)
    options = {} if flip_test is None else {"flip_test": bool(flip_test)}
    specs = [member_spec(m) for m in members]
    model = create_model(
        "ensemble",
        members=specs,
        weights=weights,
        combine=combine,
        mask_member=mask_member,
        shared_encoder=shared_encoder,
        **options,
    )
    for built, member in zip(model.members, members):
        own = built.state_dict()  # without an encoder when another member's runs for it
        built.load_state_dict({k: v for k, v in member.state_dict().items() if k in own}, strict=True)
    model.model_info = {
        **({"size": sizes.pop()} if sizes else {}),
        "ensemble": {
            "files": [str(f) for f in files],
            "weights": weights,
            "combine": combine,
            "mask_member": mask_member,
            "shared_encoder": shared_encoder,
        },
    }
    return model.eval()


def _check_shared_encoder(files: list[str | Path], members: list[nn.Module]) -> None:
    """Raise unless every member's encoder (and colour mapping) equals the first's to the bit: the maps a shared
    encoder computes once are then each member's own."""

    def encoder_state(model: nn.Module) -> dict[str, Tensor]:
        prefixes = ("encoder.", "colour_mapper.")
        return {k: v for k, v in model.state_dict().items() if k.startswith(prefixes) and v.is_floating_point()}

    first = encoder_state(members[0])
    if not first:
        raise CheckpointError(f"shared encoder: {files[0]} has no encoder to share")
    for path, member in zip(files[1:], members[1:]):
        other = encoder_state(member)
        differ = sorted(
            k
            for k in first.keys() | other.keys()
            if k not in first or k not in other or not torch.equal(first[k], other[k])
        )
        if differ:
            raise CheckpointError(
                f"shared encoder: the encoder of {path} differs from that of {files[0]} ({len(differ)} tensors, "
                f"e.g. {differ[0]}); only fine-tunes whose encoder did not learn can share one"
            )
