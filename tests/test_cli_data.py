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
