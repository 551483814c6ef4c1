"""A training state split over files of bounded size, so that it can travel where one file may not be large
(e.g. a lent GPU machine that returns at most 16 MiB a file between 10-minute chunks).

``save_state_files(state, path, max_bytes)`` writes ``path`` (the state's structure and the first tensors) and,
when the tensors do not fit, ``path.<token>.<k>`` shards with the rest; every file is at most ``max_bytes`` plus
a little pickling overhead. ``path`` is written last and names its token, so a write interrupted at any point
leaves the previous state readable; the shards of older tokens are removed afterwards. ``load_state_files``
reads a state written either way (one file or sharded).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import torch

from inharmony.fileio import atomic_path

MARK = "__tensor__"


def _flatten(obj: Any, tensors: list[torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors.append(obj)
        return {MARK: len(tensors) - 1}
    if isinstance(obj, dict):
        return {k: _flatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_flatten(v, tensors) for v in obj)
    return obj


def _unflatten(obj: Any, tensors: dict[int, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {MARK}:
            return tensors[obj[MARK]]
        return {k: _unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unflatten(v, tensors) for v in obj)
    return obj


def shard_paths(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*.*"))


def save_state_files(state: dict, path: str | Path, max_bytes: int | None = None) -> list[Path]:
    """Write ``state`` to ``path`` (one file when ``max_bytes`` is None) or to ``path`` plus shards of at most
    ``max_bytes`` of tensor data each. Returns the files written."""
    path = Path(path)
    if max_bytes is None:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
        for old in shard_paths(path):
            old.unlink(missing_ok=True)
        return [path]
    tensors: list[torch.Tensor] = []
    skeleton = _flatten(state, tensors)
    groups: list[dict[int, torch.Tensor]] = [{}]
    used = 0
    for i, t in enumerate(tensors):
        size = t.numel() * t.element_size()
        if size > max_bytes:
            raise ValueError(f"a {size / 2**20:.1f} MiB tensor does not fit in {max_bytes / 2**20:.1f} MiB files")
        if used + size > max_bytes and groups[-1]:
            groups.append({})
            used = 0
        # a view would drag its whole storage into the file
        groups[-1][i] = t.clone() if t.untyped_storage().nbytes() > size else t
        used += size
    token = uuid.uuid4().hex[:8]
    written = []
    for k, group in enumerate(groups[1:], start=1):
        shard = path.parent / f"{path.name}.{token}.{k}"
        with atomic_path(shard) as tmp:
            torch.save({"token": token, "tensors": group}, tmp)
        written.append(shard)
    with atomic_path(path) as tmp:
        torch.save({"sharded": token, "shards": len(groups), "skeleton": skeleton, "tensors": groups[0]}, tmp)
    for old in shard_paths(path):
        if old not in written:
            old.unlink(missing_ok=True)
    return [path, *written]


def load_state_files(path: str | Path, map_location: Any = "cpu") -> dict:
    """Read a state written by :func:`save_state_files` (or by ``torch.save`` directly)."""
    path = Path(path)
    head = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(head, dict) or "sharded" not in head:
        return head
    token, tensors = head["sharded"], dict(head["tensors"])
    for k in range(1, head["shards"]):
        shard = path.parent / f"{path.name}.{token}.{k}"
        if not shard.is_file():
            raise FileNotFoundError(f"{path} needs its shard {shard.name}, which is missing (copy every {path.name}.*)")
        part = torch.load(shard, map_location=map_location, weights_only=True)
        tensors.update(part["tensors"])
    return _unflatten(head["skeleton"], tensors)
