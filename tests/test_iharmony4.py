import re

import pytest
import torch

from fakes import make_fake_iharmony4
from inharmony.data.dataset import CompositeDataset
from inharmony.data.iharmony4 import DatasetError, make_iharmony4_dataset, parse_entry
from inharmony.data.le50 import build_le50, validation_draw


@pytest.mark.parametrize(
    "entry, mask, real",
    [
        (
            "HCOCO/composite_images/c100034_658772_1.jpg",
            "HCOCO/masks/c100034_658772.png",
            "HCOCO/real_images/c100034.jpg",
        ),
        ("HAdobe5k/composite_images/a0001_1_2.jpg", "HAdobe5k/masks/a0001_1.png", "HAdobe5k/real_images/a0001.jpg"),
        (
            "Hday2night/composite_images/d10091-20120914-152206_1_1.jpg",
            "Hday2night/masks/d10091-20120914-152206_1.png",
            "Hday2night/real_images/d10091-20120914-152206.jpg",
        ),
    ],
)
def test_parse_entry_follows_the_naming_convention(entry, mask, real):
    subset, m, r = parse_entry(entry)
    assert (subset, m, r) == (entry.split("/")[0], mask, real)


@pytest.mark.parametrize(
    "bad, match",
    [
        ("../etc/composite_images/x_1_1.jpg", "outside"),
        ("/abs/composite_images/x_1_1.jpg", "outside"),
        ("HCOCO/masks/c1_2_3.jpg", "expected"),
        ("HCOCO/composite_images/c100034.jpg", "must look like"),
    ],
)
def test_parse_entry_refuses_bad_entries(bad, match):
    with pytest.raises(DatasetError, match=match):
        parse_entry(bad)


def test_index_per_subset_lists(tmp_path):
    root = make_fake_iharmony4(tmp_path / "ih")
    train = make_iharmony4_dataset(root, "train")
    test = make_iharmony4_dataset(root, "test")
    assert len(train) == 5 and len(test) == 4
    assert {s.subset for s in test} == {"HCOCO", "HAdobe5k", "HFlickr", "Hday2night"}
    s = next(s for s in train if s.name.endswith("c100034_658772_2.jpg"))
    assert s.mask == root / "HCOCO/masks/c100034_658772.png" and s.real == root / "HCOCO/real_images/c100034.jpg"
    only = make_iharmony4_dataset(root, "train", subsets=["HFlickr"])
    assert [x.subset for x in only] == ["HFlickr"]


def test_global_list_duplicates_and_missing_files(tmp_path, caplog):
    root = make_fake_iharmony4(tmp_path / "ih")
    entry = "HCOCO/composite_images/c100034_658772_1.jpg"
    (root / "IHD_train.txt").write_text(f"{entry}\n{entry}\n\n")
    assert len(make_iharmony4_dataset(root, "train")) == 1
    assert "duplicate" in caplog.text
    (root / "HCOCO/masks/c100034_658772.png").unlink()
    with pytest.raises(DatasetError, match="c100034_658772.png is missing"):
        make_iharmony4_dataset(root, "train")
    with pytest.raises(DatasetError, match="root not found"):
        make_iharmony4_dataset(tmp_path / "nothing", "train")


def test_le50_drops_large_regions_and_splits_validation(tmp_path):
    root = make_fake_iharmony4(tmp_path / "ih")
    counts = build_le50(root, val_fraction=0.25, seed=3)
    # c200_5_1 (75 % region) is the HCOCO test item: dropped from test only.
    assert counts["test"]["HCOCO"] == 0 and counts["test_dropped"]["HCOCO"] == 1
    assert sum(counts["train"].values()) == 5
    train = (root / "le50_train.txt").read_text().split()
    val = (root / "le50_val.txt").read_text().split()
    noval = (root / "le50_train_noval.txt").read_text().split()
    assert len(val) == 1 and set(val).isdisjoint(noval) and sorted(val + noval) == sorted(train)
    assert "HCOCO/composite_images/c200_5_1.jpg" not in (root / "le50_test.txt").read_text()
    assert (root / "le50_fractions.csv").is_file()
    assert make_iharmony4_dataset(root, list_file="le50_test.txt")[0].name.startswith("HAdobe5k")


def test_validation_draw_is_seeded():
    entries = [f"S/composite_images/x{i}_1_1.jpg" for i in range(50)]
    assert validation_draw(entries, 0.1, 1) == validation_draw(entries, 0.1, 1)
    assert validation_draw(entries, 0.1, 1)[1] != validation_draw(entries, 0.1, 2)[1]
    assert len(validation_draw(entries, 0.1, 1)[1]) == 5


def test_dataset_items(tmp_path):
    root = make_fake_iharmony4(tmp_path / "ih")
    samples = make_iharmony4_dataset(root, "train")
    ds = CompositeDataset(samples, size=32, train=True, seed=1)
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert set(torch.unique(item["mask"]).tolist()) <= {0.0, 1.0} and item["mask"].sum() > 10
    assert torch.equal(ds[0]["image"], item["image"])  # same epoch, same index: same crop
    ds.set_epoch(1)
    different = [not torch.equal(ds[i]["image"], CompositeDataset(samples, 32, True, 1)[i]["image"]) for i in range(5)]
    assert any(different)
    test_item = CompositeDataset(samples, size=32)[0]
    assert test_item["mask"].mean().item() == pytest.approx(0.2, abs=0.06)
    assert item["subset"] == samples[0].subset and item["name"] == samples[0].name


def test_dataset_reports_size_mismatch_and_bad_images(tmp_path):
    from PIL import Image

    root = make_fake_iharmony4(tmp_path / "ih")
    samples = make_iharmony4_dataset(root, "train", subsets=["HAdobe5k", "HFlickr"])
    mask, comp = samples[0].mask.name, samples[0].composite.name
    Image.new("L", (10, 10)).save(samples[0].mask)
    item = CompositeDataset(samples)[0]  # replaced by the next readable sample, the problem named
    assert item["name"] == samples[1].name
    assert re.search(rf"{mask} is 10×10 but composite .*expected the same size", item["skipped"])
    samples[0].composite.write_bytes(b"not an image")
    assert f"{comp}: not a readable image" in CompositeDataset(samples)[0]["skipped"]
    with pytest.raises(DatasetError, match="in a row .* are unreadable"):
        CompositeDataset(samples[:1])[0]


def test_masks_in_any_encoding(tmp_path):
    import numpy as np
    from PIL import Image

    from inharmony.imageio import read_mask

    base = np.zeros((6, 8), np.uint8)
    base[:2] = 1
    Image.fromarray(base).save(tmp_path / "01.png")
    Image.fromarray(base * 255).save(tmp_path / "0255.png")
    Image.fromarray(np.stack([base * 255] * 3, -1)).save(tmp_path / "rgb.png")
    Image.fromarray(base * 255).convert("1").save(tmp_path / "bits.png")
    for name in ("01.png", "0255.png", "rgb.png", "bits.png"):
        m = read_mask(tmp_path / name)
        assert m.shape == (6, 8) and (m > 0.5).sum() == 16, name
