"""Scene neighbours: photo embeddings, nearest photos, and the stream drawing a pair's other photo from them."""

import json

import numpy as np
import pytest
import torch

from fakes import make_photos
from inharmony.cli.main import main
from inharmony.data.synth.composer import SynthConfig
from inharmony.data.synth.neighbours import photo_key, scene_neighbours
from inharmony.data.synth.photos import index_photos
from inharmony.data.synth.stream import SyntheticPairs, build_synthetic


def write_embeddings(path, keys, vectors):
    vectors = np.asarray(vectors, np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.savez(path, keys=np.array(keys), embeddings=vectors.astype(np.float16))
    return path


@pytest.fixture()
def photos(tmp_path):
    folder = make_photos(tmp_path / "p", n=6, size=(96, 72), noise=4.0)
    found, _ = index_photos(folder, test_fraction=0.0)
    return folder, found


def test_data_embed_writes_one_unit_row_per_photo(tmp_path, photos, capsys):
    from torchvision.models import mobilenet_v2

    folder, found = photos
    torch.manual_seed(0)
    torch.save(mobilenet_v2(weights=None).state_dict(), tmp_path / "mnv2.pth")
    out = tmp_path / "emb" / "photos.npz"
    args = ["data", "embed", "--photos", str(folder), "--out", str(out), "--weights", str(tmp_path / "mnv2.pth")]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == {"embedded": 6, "failed": 0}
    with np.load(out) as data:
        assert sorted(data["keys"]) == sorted(photo_key(p.path, folder) for p in found)
        assert data["embeddings"].dtype == np.float16 and data["embeddings"].shape[0] == 6
        assert np.allclose(np.linalg.norm(data["embeddings"].astype(np.float32), axis=1), 1, atol=1e-2)
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    assert main([*args[:-1], str(tmp_path / "other.pth")]) != 0
    assert "other.pth: not a torchvision MobileNetV2 state dict" in capsys.readouterr().err


def test_neighbours_are_the_nearest_other_photos(tmp_path, photos):
    folder, found = photos
    keys = [photo_key(p.path, folder) for p in found]
    # photos 0-2 look alike, 3-5 look alike; within each group the next index is the nearest
    vectors = [[1, 0.0, 0], [1, 0.1, 0], [1, 0.3, 0], [0, 0, 1], [0, 0.1, 1], [0, 0.3, 1]]
    order = {k: i for i, k in enumerate(sorted(keys))}
    emb = write_embeddings(tmp_path / "e.npz", keys, [vectors[order[k]] for k in keys])
    rows = scene_neighbours(found, folder, emb, 2)
    group = [order[k] // 3 for k in keys]
    for i, row in enumerate(rows):
        assert i not in row and len(row) == 2
        assert all(group[j] == group[i] for j in row)  # the two nearest are the two of its own group
    assert scene_neighbours(found, folder, emb, 50).shape == (6, 5)  # never more than the other photos
    write_embeddings(tmp_path / "short.npz", keys[:5], [vectors[order[k]] for k in keys[:5]])
    with pytest.raises(ValueError, match="1 of 6 photos.*inharmony data embed"):
        scene_neighbours(found, folder, tmp_path / "short.npz", 2)
    (tmp_path / "bad.npz").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="bad.npz"):
        scene_neighbours(found, folder, tmp_path / "bad.npz", 2)


def test_stream_takes_the_donor_from_the_neighbours(photos):
    folder, found = photos
    nearest = np.array([[(i + 1) % 6] for i in range(6)])  # photo i's only neighbour: photo i + 1
    cfg = SynthConfig(kinds={"paste": 1.0}, jpeg_quality=None)
    ds = SyntheticPairs(found, 24, None, train=False, seed=3, cfg=cfg, neighbours=nearest)
    pasted = 0
    for p in range(12):
        pair, j = ds.pair(p)
        if pair.info["kind"] == "paste":
            pasted += 1
            donor, _, _ = ds.cache[(j + 1) % 6]
            assert np.array_equal(pair.twin, donor)  # the twin is the donor photo: the neighbour
    assert pasted >= 6
    with pytest.raises(ValueError, match="neighbours"):
        SyntheticPairs(found, 24, None, neighbours=np.zeros((5, 1), int))
    with pytest.raises(ValueError, match="neighbours"):
        SyntheticPairs(found, 24, None, neighbours=np.full((6, 1), 6))


def test_build_synthetic_gives_neighbours_to_training_only(tmp_path, photos):
    folder, found = photos
    keys = [photo_key(p.path, folder) for p in found]
    emb = write_embeddings(tmp_path / "e.npz", keys, np.random.default_rng(0).normal(size=(6, 8)))
    kw = {"test_fraction": 0.0, "scene_neighbours": 2, "photo_embeddings": emb}
    train, val = build_synthetic(folder, 8, 4, 48, 0, **kw)
    assert train.neighbours.shape == (6, 2)
    assert val.neighbours is None  # validation stays comparable across recipes
    with pytest.raises(ValueError, match="photo_embeddings"):
        build_synthetic(folder, 8, 4, 48, 0, scene_neighbours=2)
