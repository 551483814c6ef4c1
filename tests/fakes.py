"""Tiny fake datasets written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FAKE_NAMES = {
    "HCOCO": ["c100034_658772_1", "c100034_658772_2", "c200_5_1"],
    "HAdobe5k": ["a0001_1_2", "a0002_1_1"],
    "HFlickr": ["f1000_1_1", "f1001_2_1"],
    "Hday2night": ["d10091-20120914-152206_1_1", "d10092-20120914-152206_1_1"],
}


def write_composite(root: Path, subset: str, stem: str, size=(48, 40), fraction: float = 0.2, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    w, h = size
    name, mask_id, _ = stem.rsplit("_", 2)
    real = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    rows = max(1, int(round(h * fraction)))
    mask[:rows] = 255
    comp = real.copy()
    comp[mask > 0] = (comp[mask > 0] * 0.5).astype(np.uint8)
    for folder, fname, arr in (
        ("composite_images", f"{stem}.jpg", comp),
        ("masks", f"{name}_{mask_id}.png", mask),
        ("real_images", f"{name}.jpg", real),
    ):
        (root / subset / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / subset / folder / fname)


def make_fake_iharmony4(root: Path, big_region: str | None = "c200_5_1") -> Path:
    """Four subsets, per-subset train/test lists; ``big_region`` gets a mask covering 75 %."""
    for subset, stems in FAKE_NAMES.items():
        for i, stem in enumerate(stems):
            write_composite(root, subset, stem, fraction=0.75 if stem == big_region else 0.2, seed=i)
        (root / subset / f"{subset}_train.txt").write_text("".join(f"{s}.jpg\n" for s in stems[:-1]))
        (root / subset / f"{subset}_test.txt").write_text(f"{stems[-1]}.jpg\n")
    return root


def make_photos(folder: Path, n: int = 4, size=(96, 72), noise: float = 0.0, seed: int = 100) -> Path:
    """Smooth, structured colour photos (gradients + blobs) so that segmentation has something to do; ``noise``
    (in 0–255 units) adds sensor-like grain, without which the flat blobs look like graphics to the photo filter."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    for i in range(n):
        rng = np.random.default_rng(seed + i)
        img = np.stack([xx * rng.uniform(0.3, 1), yy * rng.uniform(0.3, 1), (xx + yy) / 2], -1)
        for _ in range(4):
            cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.3)
            blob = ((yy - cy * h / max(h, w)) ** 2 + (xx - cx * w / max(h, w)) ** 2) < r**2
            img[blob] = rng.uniform(0, 1, 3)
        img = img * 255 + rng.normal(0, noise, img.shape) if noise else img * 255
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f"photo_{i}.png")
    return folder


def tiny_model_file(folder: Path, size: int = 64, name: str = "dirl_mobilenetv2", **info) -> Path:
    """An untrained model saved as a model file (seeded), for tests of everything that loads one."""
    import torch

    from inharmony.checkpoint import save_model
    from inharmony.models import create_model

    torch.manual_seed(0)
    return save_model(create_model(name), Path(folder) / f"{name}.safetensors", info={"size": size, **info})


def make_synth_dataset(base: Path, n: int, seed: int = 0, photos: int = 5, size=(72, 64)) -> Path:
    """Photos + ``inharmony data synth`` into ``base/ds`` (iHarmony4 layout); returns the dataset root."""
    from inharmony.cli.main import main

    folder = make_photos(base / "photos", n=photos, size=size)
    args = ["data", "synth", "--photos", str(folder), "--out", str(base / "ds"), "--n", str(n), "--seed", str(seed)]
    args.append("--legacy")
    assert main(args) == 0
    return base / "ds"


def assert_onnx_parity(model, folder: Path, name: str, size: int = 64) -> None:
    """Save ``model``, export it with ``inharmony export --check``, and compare ONNX Runtime's probabilities with
    torch's on random images (atol 1e-3)."""
    import torch

    from inharmony.checkpoint import save_model
    from inharmony.cli.main import main
    from inharmony.export import OnnxModule

    path = save_model(model, Path(folder) / f"{name}.safetensors", info={"size": size})
    assert main(["export", "--model", str(path), "--out", str(Path(folder) / f"{name}.onnx"), "--check"]) == 0
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want = torch.sigmoid(model(x)["logits"])
    got = torch.sigmoid(OnnxModule(Path(folder) / f"{name}.onnx")(x)["logits"])
    assert torch.allclose(got, want, atol=1e-3)


def warm_started(folder: Path, source: str, target: str, seed: int = 0):
    """A fresh ``source`` model (eval mode), saved, and a ``target`` model warm-started from it:
    returns (source, target, the target's weights the start left fresh)."""
    import torch

    from inharmony.checkpoint import save_model
    from inharmony.engine.trainer import warm_start
    from inharmony.models import create_model

    torch.manual_seed(seed)
    model = create_model(source).eval()
    path = save_model(model, Path(folder) / f"{source}.safetensors")
    started = create_model(target)
    fresh = warm_start(started, path)
    return model, started, fresh


def fit_and_score(head, batch, steps: int = 150, lr: float = 1e-2) -> float:
    """Train ``head`` with Adam on ``batch()`` → (inputs…, labels) by binary cross-entropy on ``head(*inputs)``
    logits, then return its accuracy on a fresh ``batch(400)``."""
    import torch

    opt = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):
        *inputs, label = batch()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(*inputs), label)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    *inputs, label = batch(400)
    with torch.no_grad():
        return float(((head(*inputs) > 0).float() == label).float().mean())


def synthetic_trainer(folder: Path, model: str, *overrides: str):
    """A Trainer for ``model`` on tiny synthetic composites with authentic twins (so validation has an AUROC) made
    from six noisy fake photos under ``folder``; ``overrides`` (``section.key=value``) come last."""
    from inharmony.engine.config import load_config
    from inharmony.engine.trainer import Trainer

    photos = make_photos(Path(folder) / "photos", n=6, noise=4.0)
    settings = [
        f"model.name={model}",
        "data.kind=synthetic",
        f"data.photos={photos}",
        "data.size=64",
        "data.train_length=8",
        "data.val_length=8",
        "train.batch_size=4",
        "train.workers=0",
        "train.device=cpu",
        "train.epochs=1",
        "train.collapse_patience=0",
        *overrides,
    ]
    return Trainer(load_config(None, settings), Path(folder) / "run")
