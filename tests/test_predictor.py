"""The predictor takes any image size and mode and returns maps at the original size."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from fakes import tiny_model_file
from inharmony.imageio import ImageReadError, read_image
from inharmony.inference import Predictor


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    return Predictor.from_checkpoint(tiny_model_file(tmp_path_factory.mktemp("m"), 64), device="cpu")


def save(img: Image.Image, tmp_path, name: str, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_uses_the_training_size_and_keeps_original_size(predictor, tmp_path):
    assert predictor.size == 64
    rng = np.random.default_rng(0)
    path = save(Image.fromarray(rng.integers(0, 255, (37, 91, 3), dtype=np.uint8)), tmp_path, "odd size.png")
    pred = predictor.predict(path, attention=True)
    assert pred.probability.shape == (37, 91) and pred.probability.dtype == np.float32
    assert 0 <= pred.probability.min() and pred.probability.max() <= 1
    assert len(pred.attention) == 5 and all(a.shape == (37, 91) for a in pred.attention)
    assert pred.mask().shape == (37, 91) and set(np.unique(pred.mask())) <= {0, 255}
    summary = pred.summary()
    keys = {"height", "width", "inharmonious", "score", "raw_score", "calibrated", "region_fraction", "bbox"}
    assert set(summary) == keys | {"max_probability"} and summary["calibrated"] is False
    assert summary["score"] == summary["raw_score"]  # an uncalibrated model's score is its raw score
    assert summary["inharmonious"] == (summary["score"] > 0.5) and 0 <= summary["score"] <= 1


def test_verdict_gates_the_mask_and_gives_a_box():
    from inharmony.inference.predictor import Prediction

    low = np.zeros((10, 10), np.float32)
    low[2:4, 3:7] = 0.9
    found = Prediction(low, (10, 10))
    assert found.verdict() and found.score == pytest.approx(0.9)
    assert found.summary()["bbox"] == [3, 2, 7, 4] and found.summary()["region_fraction"] == pytest.approx(0.08)
    faint = Prediction(np.full((10, 10), 0.3, np.float32), (20, 20))
    assert not faint.verdict() and faint.mask().shape == (20, 20) and faint.mask().max() == 0
    assert faint.summary()["bbox"] is None and faint.summary()["region_fraction"] == 0.0


@pytest.mark.parametrize(
    "mode, kw",
    [("L", {}), ("RGBA", {}), ("P", {}), ("I;16", {}), ("CMYK", {"format": "JPEG"}), ("1", {})],
)
def test_any_mode(predictor, tmp_path, mode, kw):
    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray((rng.integers(0, 65535, (24, 30))).astype(np.uint16))
    elif mode == "P":
        img = base.convert("P")
    else:
        img = base.convert(mode)
    suffix = ".jpg" if kw.get("format") == "JPEG" else ".png"
    path = save(img, tmp_path, f"img_{mode.replace(';', '')}{suffix}", **kw)
    assert predictor.predict(path).probability.shape == (24, 30)


def test_exif_rotation_is_applied(predictor, tmp_path):
    img = Image.fromarray(np.zeros((20, 40, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = save(img, tmp_path, "rotated.jpg", exif=exif)
    assert read_image(path).size == (20, 40)
    assert predictor.predict(path).probability.shape == (40, 20)


def test_arrays_pil_bytes_and_gif(predictor, tmp_path):
    arr = np.random.default_rng(2).random((16, 16, 3))
    assert predictor.predict(arr).probability.shape == (16, 16)
    assert predictor.predict((arr * 65535).astype(np.uint16)).probability.shape == (16, 16)
    assert predictor.predict(Image.new("LA", (9, 7))).probability.shape == (7, 9)
    buf = io.BytesIO()
    Image.new("RGB", (12, 10), "red").save(buf, format="PNG")
    assert predictor.predict(buf.getvalue()).probability.shape == (10, 12)
    frames = [Image.new("P", (15, 11), i) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert predictor.predict(tmp_path / "anim.gif").probability.shape == (11, 15)
    assert predictor.predict(Image.new("RGB", (1, 1))).probability.shape == (1, 1)


def test_bad_inputs_name_the_file(predictor, tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.jpg: empty file"):
        predictor.predict(tmp_path / "empty.jpg")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageReadError, match="text.png: not a readable image"):
        predictor.predict(tmp_path / "text.png")
    good = save(Image.new("RGB", (40, 30)), tmp_path, "trunc.jpg")
    (tmp_path / "trunc.jpg").write_bytes(good.read_bytes()[:60])
    with pytest.raises(ImageReadError, match="trunc.jpg"):
        predictor.predict(tmp_path / "trunc.jpg")
    small = Predictor(predictor.model, size=64, device="cpu", max_pixels=100)
    with pytest.raises(ImageReadError, match="exceeds the limit of 100"):
        small.predict(save(Image.new("RGB", (20, 20)), tmp_path, "big.png"))


def test_missing_default_model_is_a_clear_error(tmp_path, monkeypatch):
    import inharmony.inference.predictor as p

    monkeypatch.setattr(p, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="no default model is shipped"):
        Predictor.from_checkpoint("default")
    with pytest.raises(FileNotFoundError, match="neither a file nor a shipped model"):
        Predictor.from_checkpoint("nope")


def test_reduced_jpeg_decoding_keeps_the_full_size(tmp_path):
    from inharmony.imageio import read_image_reduced

    img = Image.fromarray(np.random.default_rng(3).integers(0, 255, (900, 1200, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "big.jpg", exif=exif)
    small, size = read_image_reduced(tmp_path / "big.jpg", 64)
    assert size == (1200, 900)  # upright full size (EXIF rotation applied)
    assert min(small.size) >= 64 and small.size[0] < 900 and small.size[1] < 1200
    full, size2 = read_image_reduced(tmp_path / "big.jpg", None)
    assert full.size == (900, 1200) and size2 == size


def test_channels_last_gives_the_same_map(predictor):
    image = np.random.default_rng(5).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    fast = Predictor(predictor.model, size=64, device="cpu", channels_last=True)
    assert np.abs(fast.predict(image).probability - predictor.predict(image).probability).max() < 1e-4
    with pytest.raises(ValueError, match="CUDA"):
        Predictor(predictor.model, size=64, device="cpu", half=True)


def test_upsampling_matches_torch_bilinear():
    import torch.nn.functional as F

    from inharmony.inference.predictor import upsample

    low = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    for size in [(300, 170), (64, 64), (65, 200)]:
        want = F.interpolate(torch.from_numpy(low)[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
        got = upsample(low, size)
        assert got.shape == size and got.dtype == np.float32
        assert np.abs(got - want.numpy()).max() < 1e-4
        assert 0 <= got.min() and got.max() <= 1


def test_folder_batches_keep_order_and_report_bad_files(predictor, tmp_path):
    from inharmony.inference.batch import iter_batches

    files = []
    for i in range(7):
        path = tmp_path / f"{i}.png"
        if i == 3:
            path.write_bytes(b"not an image")
        else:
            Image.fromarray(np.full((10 + i, 12, 3), i * 30, np.uint8)).save(path)
        files.append(path)
    for workers in (0, 2):
        records = [r for batch in iter_batches(files, predictor, 3, workers) for r in batch]
        assert [r["path"] for r in records] == [str(f) for f in files]
        assert [r["error"] is None for r in records] == [i != 3 for i in range(7)]
        assert "3.png" in records[3]["error"]
        assert records[6]["size"] == (16, 12) and records[6]["array"].shape == (3, predictor.size, predictor.size)
