import numpy as np
import pytest
from PIL import Image

from fakes import make_photos
from inharmony.data.iharmony4 import make_iharmony4_dataset
from inharmony.data.synth import SyntheticDataset, make_composite, write_synthetic_dataset
from inharmony.data.synth.generator import colour_delta, load_cutouts


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = make_photos(tmp_path_factory.mktemp("photos"), n=4)
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]


def test_deterministic_for_a_seed(photos):
    a = make_composite(photos[0], np.random.default_rng(7), photos[1])
    b = make_composite(photos[0], np.random.default_rng(7), photos[1])
    c = make_composite(photos[0], np.random.default_rng(8), photos[1])
    assert np.array_equal(a.composite, b.composite) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.composite, c.composite)


@pytest.mark.parametrize("seed", range(12))
def test_region_area_untouched_outside_and_visible_inside(photos, seed):
    rng = np.random.default_rng(seed)
    comp = make_composite(photos[seed % 4], rng, photos[(seed + 1) % 4], area=(0.01, 0.5))
    region = comp.mask > 127
    assert 0.01 <= region.mean() <= 0.5
    assert np.array_equal(comp.composite[comp.alpha == 0], comp.real[comp.alpha == 0])
    assert colour_delta(comp.composite, comp.real, region) >= 4.0
    assert comp.composite.shape == comp.real.shape and comp.mask.shape == comp.real.shape[:2]


def test_subtle_strength_changes_less(photos):
    deltas = {}
    for name, strength in (("subtle", (0.05, 0.1)), ("strong", (0.9, 1.0))):
        d = [
            make_composite(photos[0], np.random.default_rng(s), None, strength=strength, min_delta=0).info["delta_e"]
            for s in range(8)
        ]
        deltas[name] = np.mean(d)
    assert deltas["subtle"] < deltas["strong"] / 2


def test_cutouts_as_shapes_and_pastes(photos, tmp_path):
    rgba = np.zeros((40, 30, 4), np.uint8)
    rgba[5:35, 5:25] = (200, 30, 30, 255)
    Image.fromarray(rgba).save(tmp_path / "obj.png")
    Image.new("RGB", (20, 20)).save(tmp_path / "no_alpha.png")
    cutouts = load_cutouts(tmp_path)
    assert len(cutouts) == 1 and cutouts[0].shape == (30, 20, 4)
    regions = {
        make_composite(photos[0], np.random.default_rng(s), None, cutouts, paste_prob=0.5).info["region"]
        for s in range(20)
    }
    assert "paste" in regions


def test_written_layout_is_readable_and_splits_by_photo(tmp_path):
    photo_dir = make_photos(tmp_path / "photos", n=5)
    counts = write_synthetic_dataset(photo_dir, tmp_path / "synth", n=10, seed=1, test_fraction=0.2)
    assert counts["train"] + counts["test"] == 10 and counts["test"] >= 1
    train = make_iharmony4_dataset(tmp_path / "synth", "train")
    test = make_iharmony4_dataset(tmp_path / "synth", "test")
    assert {s.subset for s in train} == {"Synthetic"}
    train_photos = {s.real for s in train}
    assert train_photos.isdisjoint({s.real for s in test})
    assert all(s.real.is_file() for s in train + test)
    again = write_synthetic_dataset(photo_dir, tmp_path / "again", n=10, seed=1, test_fraction=0.2)
    assert again == counts
    a = (tmp_path / "synth/Synthetic/masks").iterdir()
    for m in a:
        assert (tmp_path / "again/Synthetic/masks" / m.name).read_bytes() == m.read_bytes()


def test_bad_photo_is_skipped_not_fatal(tmp_path):
    photo_dir = make_photos(tmp_path / "photos", n=3)
    (photo_dir / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    counts = write_synthetic_dataset(photo_dir, tmp_path / "synth", n=8, seed=0, test_fraction=0)
    assert counts["skipped_photos"] == 1 and counts["train"] == 6


def test_on_the_fly_dataset(tmp_path):
    photo_dir = make_photos(tmp_path / "photos", n=3)
    ds = SyntheticDataset(sorted(photo_dir.iterdir()), length=4, size=32, seed=2)
    item = ds[1]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert np.array_equal(ds[1]["image"].numpy(), item["image"].numpy())
    ds.set_epoch(1)
    assert not np.array_equal(ds[1]["image"].numpy(), item["image"].numpy())
