"""Evaluation as one command: probes, verdict score, AUROC, and models that deserve their scores."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from fakes import make_photos
from inharmony.cli.main import main
from inharmony.data.synth.changes import _lab
from inharmony.engine.probes import EvalItem, cutout_paste, paste_matte, region_swap
from inharmony.engine.report import EvalSet, evaluate_sets, parse_set, summarise
from inharmony.verdict import auroc, image_score


def test_auroc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40) / 4, rng.integers(0, 5, 30) / 5
    want = roc_auc_score(np.r_[np.ones(40), np.zeros(30)], np.r_[pos, neg])
    assert auroc(pos, neg) == pytest.approx(want)
    assert auroc([0.9], [0.1]) == 1.0 and auroc([0.1], [0.9]) == 0.0 and auroc([0.5], [0.5]) == 0.5
    assert math.isnan(auroc([], [0.3]))


def test_image_score_is_the_top_percent_mean():
    p = np.zeros((100, 100), np.float32)
    assert image_score(p) == 0.0
    p[:10, :10] = 0.8  # exactly the top 1 %
    assert image_score(p) == pytest.approx(0.8)
    p[0, 0] = 1.0
    assert 0.8 < image_score(p) < 0.81  # one stray pixel does not decide


class RedDetector:
    """A perfect localiser for the test data: fires exactly where the image is pure red."""

    size = 32

    def preprocess(self, image):
        arr = np.asarray(image.resize((self.size, self.size), Image.NEAREST), dtype=np.float32)
        return ((arr[..., 0] > 200) & (arr[..., 1] < 50)).astype(np.float32)

    def _forward(self, batch, attention):
        return np.clip(batch, 0.0, 1.0) * 0.98 + 0.01, None


def red_items(n=4):
    rng = np.random.default_rng(1)
    items = []
    for i in range(n):
        img = rng.integers(60, 160, (32, 32, 3), dtype=np.uint8)
        items.append(EvalItem(f"a{i}", "authentic", image=img.copy()))
        mask = np.zeros((32, 32), np.uint8)
        mask[4 : 12 + i, 8:20] = 255
        img[mask > 0] = (255, 0, 0)
        items.append(EvalItem(f"c{i}", "g", image=img, mask=mask))
    return items


def test_a_perfect_model_gets_perfect_scores():
    rows = evaluate_sets(RedDetector(), "oracle", [EvalSet("red", red_items())], batch_size=3)
    overall = next(s for s in summarise(rows) if s["set"] == "red" and s["group"] == "overall")
    assert overall["n"] == 4 and overall["n_authentic"] == 4
    assert overall["AP"] == pytest.approx(100) and overall["IoU_plain"] == pytest.approx(100, abs=1e-3)
    assert overall["area_authentic"] == 0 and overall["false_alarm"] == 0 and overall["AUROC"] == 1.0
    assert overall["detected"] == 1.0  # every composite gets a "yes"


@pytest.fixture(scope="module")
def realdata_like(tmp_path_factory):
    """A manifest with composites, masks and the real photos, like ../shared/realdata."""
    root = tmp_path_factory.mktemp("realdata")
    photos = make_photos(root / "src", n=3, size=(64, 48), noise=4.0)
    lines = ["source,subset,composite,mask,real"]
    for i, p in enumerate(sorted(photos.iterdir())):
        real = np.asarray(Image.open(p).convert("RGB"))
        comp, mask = real.copy(), np.zeros(real.shape[:2], np.uint8)
        mask[10:30, 20:40] = 255
        comp[mask > 0] = (comp[mask > 0] * 0.5).astype(np.uint8)
        for folder, arr in (("composite_images", comp), ("masks", mask), ("real_images", real)):
            (root / folder).mkdir(exist_ok=True)
            Image.fromarray(arr).save(root / folder / f"{i}.png")
        lines.append(f"S{i % 2},sub,composite_images/{i}.png,masks/{i}.png,real_images/{i}.png")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def test_evaluate_command_table_for_models_that_fire_on_everything_or_nothing(realdata_like, tmp_path, capsys):
    photos = make_photos(tmp_path / "photos", n=4, size=(96, 72), noise=4.0)
    out = tmp_path / "eval"
    args = ["evaluate", "--model", "reference_whole_image", "--model", "reference_nothing", "--size", "32"]
    args += ["--data", f"real={realdata_like / 'manifest.csv'}", "--data", f"swap=swap:{photos}", "--swap-n", "2"]
    args += ["--data", f"auth=authentic:{photos}", "--out", str(out), "--per-image"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| reference_nothing | real | overall | 3 |" in printed and "false alarms" in printed
    assert "| model | real AP | swap AP | auth AP |" not in printed  # a set without composites has no AP column
    assert "| model | real AP | swap AP | detected | authentic area | false alarms | AUROC |" in printed
    assert "| reference_whole_image | " in printed and "| 100.0 % | 100.0 % | 100.0 % | 0.500 |" in printed
    assert "| 0.0 % | 0.0 % | 0.0 % | 0.500 |" in printed  # nothing detected, nothing marked, no false alarm
    summary = json.loads((out / "results.json").read_text())["summary"]
    get = {(s["model"], s["set"], s["group"]): s for s in summary}
    everything, nothing = get[("reference_whole_image", "all", "overall")], get[("reference_nothing", "all", "overall")]
    assert everything["area_authentic"] == 1.0 and everything["false_alarm"] == 1.0 and everything["AUROC"] == 0.5
    assert nothing["area_authentic"] == 0.0 and nothing["false_alarm"] == 0.0 and nothing["AUROC"] == 0.5
    assert everything["detected"] == 1.0 and nothing["detected"] == 0.0
    assert nothing["F1_plain"] == 0.0 and nothing["IoU_plain"] == 0.0
    assert everything["IoU_plain"] < 50  # the whole image is a poor mask for 1–50 % regions
    assert get[("reference_nothing", "real", "S0")]["n"] == 2 and get[("reference_nothing", "real", "S1")]["n"] == 1
    assert get[("reference_nothing", "real", "overall")]["n_authentic"] == 3
    assert get[("reference_nothing", "auth", "overall")]["n_authentic"] == 4
    rows = list(csv.DictReader(open(out / "per_image.csv", encoding="utf-8")))
    n_swap = get[("reference_nothing", "swap", "overall")]["n"]
    assert len(rows) == 2 * (3 + 3 + 2 * n_swap + 4)
    assert all(r["raw_score"] == r["score"] for r in rows)  # uncalibrated models: the score is the raw score


def test_bad_set_specs_are_clear_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="NAME=SPEC"):
        parse_set("just-a-path")
    assert main(["evaluate", "--model", "reference_nothing"]) == 2
    assert "nothing to evaluate on" in capsys.readouterr().err
    assert main(["evaluate", "--model", "reference_nothing", "--data", f"x={tmp_path / 'none.csv'}"]) == 2


def test_region_swap_changes_an_off_centre_region_reproducibly(tmp_path):
    photos = make_photos(tmp_path / "p", n=4, size=(96, 72), noise=4.0)
    a, b = region_swap(photos, n=3, seed=5), region_swap(photos, n=3, seed=5)
    assert len(a) >= 2 and len(a) % 2 == 0
    for comp, orig in zip(a[::2], a[1::2]):
        assert not comp.authentic and orig.authentic and comp.group == "swap"
        h, w = comp.mask.shape
        assert comp.mask[h // 2, w // 2] == 0 and 0.03 <= (comp.mask > 0).mean() <= 0.4
        diff = np.abs(comp.image.astype(int) - orig.image.astype(int)).mean(-1)
        assert diff[comp.mask > 0].mean() > 3 * diff[comp.mask == 0].mean()
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))


def _cutouts(folder, n=3):
    """RGBA cut-outs: a noisy (photographic-looking) disc with a soft edge, and one flat clip-art square."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:80, :64]
    edge = np.clip(30 - np.hypot(yy - 40, xx - 32), 0, 4) / 4  # 1 inside, ramping to 0 over 4 px
    for i in range(n):
        rgb = (rng.uniform(0, 255, (80, 64, 3)) * 0.5 + 60 * i).clip(0, 255)
        rgba = np.dstack([rgb, edge * 255]).astype(np.uint8)
        Image.fromarray(rgba, "RGBA").save(folder / f"stamp{i}.png")
    flat = np.zeros((80, 64, 4), np.uint8)
    flat[10:70, 10:54] = (200, 30, 30, 255)
    Image.fromarray(flat, "RGBA").save(folder / "clipart.png")
    return folder


def test_cutout_probe_pastes_through_the_matte_into_held_out_photos(tmp_path):
    photos = make_photos(tmp_path / "p", n=4, size=(96, 72), noise=4.0)
    stamps = _cutouts(tmp_path / "c")
    a, b = cutout_paste(photos, stamps, n=3, seed=5), cutout_paste(photos, stamps, n=3, seed=5)
    assert len(a) >= 2 and len(a) % 2 == 0
    for comp, orig in zip(a[::2], a[1::2]):
        assert not comp.authentic and orig.authentic and comp.group == "cutout" and orig.group == "cutout_authentic"
        inside = comp.mask > 0
        assert 0.005 <= inside.mean() <= 0.5
        rows = np.flatnonzero(inside.any(1))
        assert rows.max() >= comp.mask.shape[0] // 2 - 3  # its foot in the lower half (its matte may soften it)
        diff = np.abs(comp.image.astype(int) - orig.image.astype(int)).mean(-1)
        assert diff[inside].mean() > 5 * diff[~inside].mean()  # changed where the object is, JPEG noise elsewhere
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    image = np.full((60, 60, 3), 100, np.uint8)
    with Image.open(stamps / "stamp0.png") as img:
        rgba = np.asarray(img.convert("RGBA"))
    comp, mask = paste_matte(image, rgba, 0.2, np.random.default_rng(0))
    ys, xs = np.nonzero(mask)
    soft = (comp != 100).any(-1) & (mask == 0)  # the matte's soft edge blends outside the binarised mask
    assert soft.any() and 0.1 <= mask.mean() / 255 <= 0.3
    assert paste_matte(image, np.zeros((10, 10, 4), np.uint8), 0.2, np.random.default_rng(0)) is None
    plain, harmonised = a[0], cutout_paste(photos, stamps, n=3, seed=5, harmonised=True)[0]
    inside = plain.mask > 0
    far = ~ndimage.binary_dilation(inside, iterations=16)  # the photo away from the object: JPEG noise only
    assert np.array_equal(harmonised.mask, plain.mask)
    assert np.abs(harmonised.image[far].astype(int) - plain.image[far].astype(int)).mean() < 1.0
    around = a[1].image[~inside].reshape(-1, 3).mean(0)  # the photo's colour around the object
    gap_plain = np.abs(plain.image[inside].reshape(-1, 3).mean(0) - around).sum()
    gap_harmonised = np.abs(harmonised.image[inside].reshape(-1, 3).mean(0) - around).sum()
    assert gap_harmonised < 0.6 * gap_plain  # moved at least half way toward the photo's colour
    assert {i.group for i in parse_set(f"h=cutout_harmonised:{photos},{stamps}", swap_n=2).items} == {
        "cutout",
        "cutout_authentic",
    }
    set_ = parse_set(f"c=cutout:{photos},{stamps}", swap_n=2)
    assert set_.name == "c" and {i.group for i in set_.items} == {"cutout", "cutout_authentic"}
    stamp_means = []  # the three photographic stamps differ in brightness: the matched probe picks by it
    for i in range(3):
        with Image.open(stamps / f"stamp{i}.png") as img:
            rgba = np.asarray(img.convert("RGBA"))
        stamp_means.append(_lab(rgba[rgba[..., 3] > 127][:, :3] / 255.0).mean(0))
    matched = cutout_paste(photos, stamps, n=3, seed=5, matched=3)
    assert len(matched) >= 2 and {i.group for i in parse_set(f"m=cutout_matched:{photos},{stamps}", swap_n=2).items}
    for comp, orig in zip(matched[::2], matched[1::2]):
        target = _lab(orig.image.reshape(-1, 3)[::7] / 255.0).mean(0)
        nearest = int(np.argmin([np.linalg.norm(m - target) for m in stamp_means]))
        core = ndimage.binary_erosion(comp.mask > 0, iterations=2)  # away from the matte's blended edge
        pasted = _lab(comp.image[core] / 255.0).mean(0)
        assert int(np.argmin([np.linalg.norm(m - pasted) for m in stamp_means])) == nearest
    with pytest.raises(ValueError, match=r"cutout:PHOTO_FOLDER,CUTOUT_FOLDER\[,every\]"):
        parse_set(f"c=cutout:{photos}")
    with pytest.raises(ValueError, match="every"):
        parse_set(f"c=cutout:{photos},{stamps},some")
    held_out = {i.name for i in a}
    every = {i.name for i in parse_set(f"c=cutout:{photos},{stamps},every", swap_n=10).items}
    assert held_out < every  # the held-out photos and the others
    only_clipart = tmp_path / "flat"
    only_clipart.mkdir()
    (stamps / "clipart.png").rename(only_clipart / "clipart.png")
    with pytest.raises(ValueError, match="no photographic"):
        cutout_paste(photos, only_clipart)
    with pytest.raises(FileNotFoundError, match="cut-out folder"):
        cutout_paste(photos, tmp_path / "missing")


def test_model_labels_tell_runs_apart():
    from inharmony.cli.engine_cmd import model_labels

    got = model_labels(["default", "r/a/version_0/best.safetensors", "r/b/version_0/best.safetensors", "m.onnx"])
    assert got == ["default", "a/version_0/best", "b/version_0/best", "m"]


def test_a_synthetic_manifest_gives_its_test_rows_with_their_twins(realdata_like, tmp_path):
    """`inharmony data synth` manifests have a split column and no grouping column: the evaluation takes the test
    rows only (training rows never measure a model), in one group, with their twins as authentic photos."""
    lines = (realdata_like / "manifest.csv").read_text().splitlines()
    synth = ["composite,mask,real,split,kind"]
    for i, line in enumerate(lines[1:]):
        _, _, composite, mask, real = line.split(",")
        synth.append(f"{composite},{mask},{real},{'train' if i == 0 else 'test'},paste")
    (realdata_like / "synth.csv").write_text("\n".join(synth) + "\n")
    items = parse_set(f"paste={realdata_like / 'synth.csv'}").items
    composites = [it for it in items if not it.authentic]
    assert [it.name for it in composites] == ["composite_images/1.png", "composite_images/2.png"]
    assert {it.group for it in composites} == {"all"}
    assert sorted(it.path.name for it in items if it.authentic) == ["1.png", "2.png"]
    assert len(parse_set(f"real={realdata_like / 'manifest.csv'}").items) == 6  # no split column: every row
