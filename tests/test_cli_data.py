import json

from PIL import Image

from fakes import make_fake_iharmony4, make_photos
from inharmony.cli.main import main


def test_data_synth_le50_preview_stats(tmp_path, capsys):
    photos = make_photos(tmp_path / "photos", n=6, noise=4.0)
    args = ["data", "synth", "--photos", str(photos), "--out", str(tmp_path / "ds"), "--n", "8", "--seed", "3"]
    assert main([*args, "--test-fraction", "0.5"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["train"] + counts["test"] == 8
    assert main(["data", "le50", "--root", str(tmp_path / "ds")]) == 0
    le50 = json.loads(capsys.readouterr().out)
    assert sum(le50["train"].values()) == counts["train"]  # synthetic regions never exceed 50 %
    assert main(["data", "preview", "--root", str(tmp_path / "ds"), "--n", "3", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size[0] > 3 * 192
    capsys.readouterr()
    assert main(["data", "stats", "--root", str(tmp_path / "ds"), "--out", str(tmp_path / "stats.png")]) == 0
    table = capsys.readouterr().out
    assert "| all | iHarmony4 | 8 |" in table and "172" in table
    assert Image.open(tmp_path / "stats.png").size[0] > 800


def test_legacy_generator_still_writes(tmp_path, capsys):
    photos = make_photos(tmp_path / "photos", n=4)
    assert main(["data", "synth", "--legacy", "--photos", str(photos), "--out", str(tmp_path / "ds"), "--n", "6"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["train"] + counts["test"] == 6


def test_data_le50_on_fake_iharmony4(tmp_path, capsys):
    root = make_fake_iharmony4(tmp_path / "ih")
    assert main(["data", "le50", "--root", str(root), "--out", str(tmp_path / "lists")]) == 0
    assert (tmp_path / "lists" / "le50_test.txt").is_file()


def test_data_errors_are_clear(tmp_path, capsys):
    assert main(["data", "le50", "--root", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["data", "synth", "--photos", str(tmp_path), "--out", str(tmp_path / "o"), "--n", "2"]) == 2
    assert "no usable photos" in capsys.readouterr().err


def test_photos_from_python_packages(tmp_path, capsys):
    assert main(["data", "photos", "--out", str(tmp_path / "corpus"), "--no-debian"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["photos"] >= 3
    assert "scikit-image" in (tmp_path / "corpus" / "SOURCES.csv").read_text()


def test_average_hash_finds_the_same_photo_at_other_sizes(tmp_path):
    from inharmony.data.corpus import average_hash

    photos = make_photos(tmp_path / "p", n=2, size=(400, 300))
    a, b = (Image.open(p) for p in sorted(photos.iterdir()))
    assert average_hash(a) == average_hash(a.resize((160, 120))) == average_hash(a.resize((800, 600)))
    assert average_hash(a) != average_hash(b)


def test_data_shrink_keeps_layout_labels_and_the_rest_of_a_bad_folder(tmp_path, capsys):
    import numpy as np

    src = tmp_path / "photos"
    (src / "images" / "train").mkdir(parents=True)
    (src / "segments" / "train").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 480, 3), dtype=np.uint8)).save(src / "images" / "train" / "1.jpg")
    Image.fromarray(rng.integers(0, 255, (300, 200), dtype=np.uint8)).save(src / "images" / "train" / "grey.jpg")
    labels = np.zeros((300, 480), np.uint8)
    labels[:, 240:] = 7
    labels[100:200, 100:150] = 3
    Image.fromarray(labels).save(src / "segments" / "train" / "1_0.png")
    (src / "README.md").write_text("terms")
    (src / "images" / "train" / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["data", "shrink", "--photos", str(src), "--out", str(tmp_path / "small"), "--max-side", "96"]) == 1
    out = capsys.readouterr().out
    assert "broken.jpg" in out and "2 photos, 1 label maps, 1 other files" in out
    small = tmp_path / "small"
    photo = Image.open(small / "images" / "train" / "1.jpg")
    assert photo.format == "JPEG" and photo.size == (96, 60)
    assert Image.open(small / "images" / "train" / "grey.jpg").format == "JPEG"  # a greyscale photo stays a photo
    seg = Image.open(small / "segments" / "train" / "1_0.png")
    assert seg.size == (96, 60) and set(np.unique(np.asarray(seg))) == {0, 3, 7}  # nearest: no new labels
    assert (small / "README.md").read_text() == "terms"


def test_outlined_regions_and_min_gain_from_the_command_line_and_the_config(tmp_path, capsys):
    import csv

    from inharmony.engine.config import load_config
    from inharmony.engine.data import build_datasets

    photos = make_photos(tmp_path / "photos", n=4, noise=4.0)
    out = tmp_path / "ds"
    assert main(["data", "synth", "--photos", str(photos), "--out", str(out), "--n", "6", "--outline", "1.0"]) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv", encoding="utf-8")))
    assert len(rows) == 6 and sum(r["outlined"] == "True" for r in rows) >= 3
    assert main(["data", "synth", "--photos", str(photos), "--out", str(out), "--n", "2", "--outline", "2"]) == 2
    assert "outline_share" in capsys.readouterr().err
    cfg = load_config(None, ["data.kind=synthetic", f"data.photos={photos}", "data.outline_share=0.7"])
    train, val = build_datasets(cfg)
    assert train.cfg.outline_share == 0.7 and val.cfg.outline_share == 0.7
    assert train.cfg.min_gain is None  # off unless asked for
    train, val = build_datasets(load_config(None, ["data.kind=synthetic", f"data.photos={photos}", "data.min_gain=4"]))
    assert train.cfg.min_gain == 4.0 and val.cfg.min_gain is None  # validation stays unfiltered
    assert train.cfg.paste_harmonise == 0.0  # off unless asked for
    overrides = ["data.kind=synthetic", f"data.photos={photos}", "data.paste_harmonise=0.5"]
    train, val = build_datasets(load_config(None, overrides))
    assert train.cfg.paste_harmonise == 0.5 and val.cfg.paste_harmonise == 0.0  # validation: pastes as they are
    args = ["data", "synth", "--photos", str(photos), "--out", str(tmp_path / "h"), "--n", "8", "--paste", "1.0"]
    assert main([*args, "--paste-harmonise", "1.0"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "h" / "manifest.csv", encoding="utf-8")))
    pasted = [r for r in rows if r["kind"] == "paste"]
    assert pasted and all(r["harmonised"] and 0.2 <= float(r["harmonise_share"]) <= 0.8 for r in pasted)
    assert train.photo_jitter == 0.0  # off unless asked for
    train, val = build_datasets(
        load_config(None, ["data.kind=synthetic", f"data.photos={photos}", "data.photo_jitter=0.5"])
    )
    assert train.photo_jitter == 0.5 and val.photo_jitter == 0.0  # validation keeps each photo's own look
    assert train.crop_scale == (0.5, 1.0)  # the crops as before unless asked for
    overrides = ["data.kind=synthetic", f"data.photos={photos}", "data.crop_scale=[0.2, 0.9]"]
    train, val = build_datasets(load_config(None, overrides))
    assert train.crop_scale == (0.2, 0.9) and val.crop_scale == (0.5, 1.0)  # validation: whole photos anyway
