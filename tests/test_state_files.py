"""A training state in files of bounded size: round trip, sizes, interrupted writes, missing shards, resume."""

import pytest
import torch

from inharmony.engine.state_files import load_state_files, save_state_files, shard_paths
from inharmony.models import create_model

MIB = 2**20


def make_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model = create_model("dirl_mobilenetv2")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 32, 32))["logits"].mean().backward()
    opt.step()
    return {"version": 1, "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": seed, "best": None}


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_sharded_round_trip_keeps_every_file_under_the_limit(tmp_path):
    state = make_state()
    files = save_state_files(state, tmp_path / "last.pt", max_bytes=4 * MIB)
    assert len(files) >= 10  # 3.9 M parameters + two Adam moments ≈ 47 MB
    assert all(f.stat().st_size <= 4 * MIB + 256 * 1024 for f in files)
    assert same(load_state_files(tmp_path / "last.pt"), state)
    save_state_files(state, tmp_path / "last.pt")  # one file again: the shards go
    assert shard_paths(tmp_path / "last.pt") == [] and same(load_state_files(tmp_path / "last.pt"), state)


def test_an_interrupted_write_keeps_the_previous_state(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    first, second = make_state(0), make_state(1)
    save_state_files(first, path, max_bytes=8 * MIB)
    real_save = torch.save

    def fail_on_head(obj, f, *a, **k):
        if isinstance(obj, dict) and "sharded" in obj:
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", fail_on_head)
    with pytest.raises(OSError):
        save_state_files(second, path, max_bytes=8 * MIB)
    monkeypatch.setattr(torch, "save", real_save)
    assert same(load_state_files(path), first)  # the new shards were written, the head still names the old ones
    files = save_state_files(second, path, max_bytes=8 * MIB)
    assert same(load_state_files(path), second)
    assert set(shard_paths(path)) == set(files[1:])  # shards of older writes are cleaned up


def test_missing_shard_is_named(tmp_path):
    path = tmp_path / "last.pt"
    files = save_state_files(make_state(), path, max_bytes=8 * MIB)
    files[-1].unlink()
    with pytest.raises(FileNotFoundError, match=files[-1].name):
        load_state_files(path)


def test_trainer_resumes_from_a_sharded_state(tmp_path):
    from fakes import make_synth_dataset
    from inharmony.engine.config import load_config
    from inharmony.engine.trainer import Trainer

    root = make_synth_dataset(tmp_path / "data", n=6, seed=0, photos=3, size=(64, 64))
    overrides = [
        "model.name=dirl_mobilenetv2",
        f"data.root={root}",
        "data.size=32",
        "train.batch_size=2",
        "train.workers=0",
        "train.device=cpu",
        "train.max_steps=1",
        "train.validate=false",
        "train.state_max_mib=15",
    ]
    trainer = Trainer(load_config(None, overrides), tmp_path / "run")
    trainer.fit()
    assert len(shard_paths(tmp_path / "run" / "last.pt")) >= 2
    assert all(f.stat().st_size < 16 * MIB for f in (tmp_path / "run").glob("last.pt*"))
    again = Trainer(load_config(None, overrides), tmp_path / "run")
    again.load_state()
    assert again.global_step == 1
    for (k, a), b in zip(trainer.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k
