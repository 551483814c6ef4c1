"""The real-region generator: photo index and split, regions, changes, twins, strength, the stream, the writer."""

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakes import make_photos as _make_photos
from inharmony.data.synth import changes
from inharmony.data.synth.composer import SynthConfig, make_pair, mean_delta_e
from inharmony.data.synth.photos import index_photos, is_test_photo
from inharmony.data.synth.stream import SyntheticPairs, build_synthetic, view, write_pairs
from inharmony.engine.distributed import DistInfo
from inharmony.engine.trainer import epoch_indices


def make_photos(folder, n=4, size=(96, 72), seed=100):
    return _make_photos(folder, n=n, size=size, noise=4.0, seed=seed)


SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"


def make_bsds(root: Path, n: int = 3, size=(96, 64)) -> Path:
    """A BSDS-like layout: images/{train,test}/ID.jpg and segments/{split}/ID_K.png (two annotators)."""
    w, h = size
    for split in ("train", "test"):
        photos = make_photos(root / "tmp" / split, n=n, size=size, seed=200 if split == "test" else 300)
        for i, src in enumerate(sorted(photos.iterdir())):
            pid = f"{split}{i}"
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            (root / "segments" / split).mkdir(parents=True, exist_ok=True)
            Image.open(src).save(root / "images" / split / f"{pid}.jpg")
            coarse = np.ones((h, w), np.uint8)
            coarse[h // 4 : 3 * h // 4, w // 4 : w // 2] = 2  # 12.5 %
            fine = coarse.copy()
            fine[: h // 4] = 3
            fine[h // 4 : 3 * h // 4, w // 2 : 3 * w // 4] = 4
            Image.fromarray(coarse).save(root / "segments" / split / f"{pid}_0.png")
            Image.fromarray(fine).save(root / "segments" / split / f"{pid}_1.png")
        for p in photos.iterdir():
            p.unlink()
        photos.rmdir()
    (root / "tmp").rmdir()
    return root


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    folder = make_photos(tmp_path_factory.mktemp("one"), n=2, size=(128, 96))
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]


def test_index_splits_by_photo_drops_greyscale_and_duplicates(tmp_path):
    root = make_bsds(tmp_path / "bsds")
    flat = make_photos(tmp_path / "bsds" / "more", n=4)
    Image.open(next(flat.iterdir())).convert("L").save(flat / "grey.jpg")
    Image.open(next(flat.iterdir())).resize((48, 36)).save(flat / "copy.jpg")  # same picture, other size
    photos, report = index_photos(root, test_fraction=0.0)
    names = {p.path.name: p for p in photos}
    assert report["not_photo"] == 1 and report["duplicate"] == 1 and "grey.jpg" not in names
    assert {p.split for p in photos if "images/test" in p.path.as_posix()} == {"test"}
    assert {p.split for p in photos if "images/test" not in p.path.as_posix()} == {"train"}
    assert len(names["train0.jpg"].segments) == 2 and names["photo_0.png"].segments == ()
    everything, _ = index_photos(root, test_fraction=1.0)
    assert {p.split for p in everything} == {"test"}


def test_test_fraction_is_a_fixed_choice_per_photo():
    names = [f"imagenet/n{i:05d}.jpg" for i in range(2000)]
    chosen = [n for n in names if is_test_photo(n, 0.1)]
    assert 150 < len(chosen) < 250
    assert chosen == [n for n in names[:1000] if is_test_photo(n, 0.1)] + [
        n for n in names[1000:] if is_test_photo(n, 0.1)
    ]  # independent of the other photos
    assert is_test_photo("bsds500/images/test/1.jpg", 0.0) and not is_test_photo("bsds500/images/train/1.jpg", 0.0)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="photo folder not found"):
        index_photos(tmp_path / "nope")


@pytest.mark.parametrize("seed", range(10))
def test_twin_identical_outside_region_and_change_visible(photo, seed):
    cfg = SynthConfig(jpeg_quality=None, feather_share=0.0, delta_e=(4.0, 12.0))
    reference = photo[1].reshape(-1, 3)[::7] / 255.0
    pair = make_pair(photo[0], np.random.default_rng(seed), None, reference, cfg)
    region = pair.mask > 127
    assert 0.01 <= region.mean() <= 0.5
    assert np.array_equal(pair.composite[~region], pair.twin[~region])
    measured = mean_delta_e(pair.composite / 255.0, pair.twin / 255.0, region)
    assert measured >= 4.0 * 0.9 and measured <= 12.0 * 1.1
    assert pair.info["kind"] in changes.KINDS


def test_min_gain_keeps_changes_that_make_the_region_stand_out(photo, tmp_path):
    from inharmony.data.synth.composer import contrast_gain, ring_around
    from inharmony.data.synth.stream import build_synthetic

    reference = photo[1].reshape(-1, 3)[::7] / 255.0
    plain, kept = SynthConfig(jpeg_quality=None), SynthConfig(jpeg_quality=None, min_gain=6.0)
    gains = {"plain": [], "kept": []}
    for seed in range(16):
        for name, cfg in (("plain", plain), ("kept", kept)):
            pair = make_pair(photo[0], np.random.default_rng(seed), None, reference, cfg)
            region = pair.mask > 127
            measured = contrast_gain(pair.composite, pair.twin, region, ring_around(region))
            assert pair.info["contrast_gain"] == round(measured, 2)
            gains[name].append(measured)
    assert np.mean(np.array(gains["kept"]) >= 6.0) > np.mean(np.array(gains["plain"]) >= 6.0)
    assert np.median(gains["kept"]) > np.median(gains["plain"])
    square = np.zeros((40, 40), dtype=bool)
    square[10:20, 10:20] = True
    ring = ring_around(square, width=0.1)  # 4 px around the square, not the square itself
    assert not (ring & square).any() and ring[8, 15] and not ring[2, 15]
    image = np.full((40, 40, 3), 128, dtype=np.uint8)
    brighter = image.copy()
    brighter[square] = 200
    assert contrast_gain(brighter, image, square, ring) > 20 and contrast_gain(image, brighter, square, ring) < -20
    folder = make_photos(tmp_path / "p", n=4, size=(96, 72))
    train, val = build_synthetic(folder, 8, 4, 48, seed=0, cfg=kept, test_fraction=0.25)
    assert train.cfg.min_gain == 6.0 and val.cfg.min_gain is None  # validation stays comparable across recipes


def test_retouch_twin_is_a_whole_edit_and_strength_controls_change(photo):
    weak = SynthConfig(kinds={"retouch": 1.0}, delta_e=(2.0, 3.0), jpeg_quality=None)
    strong = SynthConfig(kinds={"retouch": 1.0}, delta_e=(20.0, 30.0), jpeg_quality=None)
    d_weak = [make_pair(photo[0], np.random.default_rng(s), cfg=weak).info["delta_e"] for s in range(6)]
    d_strong = [make_pair(photo[0], np.random.default_rng(s), cfg=strong).info["delta_e"] for s in range(6)]
    assert max(d_weak) < 4.0 and np.median(d_strong) > 15.0
    pair = make_pair(photo[0], np.random.default_rng(0), cfg=strong)
    assert pair.info["method"] == "two_edits"
    outside = pair.mask == 0
    assert np.array_equal(pair.composite[outside], pair.twin[outside])


def test_jpeg_applies_to_composite_and_twin_alike(photo):
    cfg = SynthConfig(jpeg_quality=(80, 80), feather_share=0.0)
    pair = make_pair(photo[0], np.random.default_rng(3), cfg=cfg)
    assert pair.info["jpeg_quality"] == 80
    assert not np.array_equal(pair.twin, photo[0])  # recompressed
    far = np.asarray(Image.fromarray(pair.mask).filter(__import__("PIL.ImageFilter").ImageFilter.MaxFilter(17))) == 0
    diff = np.abs(pair.composite.astype(int) - pair.twin.astype(int))
    assert diff[far].mean() < 1.0 < diff[pair.mask > 0].mean()


def test_transfer_methods_move_statistics_to_the_reference():
    rng = np.random.default_rng(0)
    src = np.clip(rng.normal(0.3, 0.05, (500, 3)), 0, 1)
    ref = np.clip(rng.normal([0.7, 0.5, 0.2], 0.1, (800, 3)), 0, 1)
    for method in changes.TRANSFER_METHODS:
        out = changes.transfer(src, ref, method, rng)
        assert np.abs(out.mean(0) - ref.mean(0)).max() < 0.05, method


def test_human_segments_give_the_regions(tmp_path):
    root = make_bsds(tmp_path / "bsds", n=2, size=(96, 64))
    photos, _ = index_photos(root, test_fraction=0.0)
    ds = SyntheticPairs([p for p in photos if p.segments], 8, size=None, train=False, cfg=SynthConfig(shape_share=0))
    for p in range(4):
        pair, _ = ds.pair(p)
        assert pair.info["region_source"] == "human"
        assert 0.01 <= (pair.mask > 0).mean() <= 0.5


def test_stream_pairs_reproducible_and_authentic_share(tmp_path):
    folder = make_photos(tmp_path / "p", n=4, size=(96, 72))
    photos, _ = index_photos(folder, test_fraction=0.0)
    ds = SyntheticPairs(photos, 40, size=48, seed=3)
    again = SyntheticPairs(photos, 40, size=48, seed=3)
    items = [ds[i] for i in range(40)]
    assert all(it["image"].shape == (3, 48, 48) and it["mask"].shape == (1, 48, 48) for it in items)
    assert np.array_equal(items[5]["image"].numpy(), again[5]["image"].numpy())
    for p in range(20):  # every odd item is the authentic twin of the composite before it
        comp, twin = items[2 * p], items[2 * p + 1]
        assert not comp["authentic"] and twin["authentic"] and twin["mask"].sum() == 0 and comp["mask"].sum() > 0
        outside = comp["mask"][0] == 0
        assert (comp["image"] - twin["image"]).abs()[:, outside].mean() < 0.05
        assert comp["content"] == twin["content"] == p  # changed in place: the twin shows the same content
    ds.set_epoch(1)
    assert not np.array_equal(ds[4]["image"].numpy(), items[4]["image"].numpy())
    none = SyntheticPairs(photos, 40, size=32, authentic_share=0.0)
    assert not any(none[i]["authentic"] for i in range(40))
    assert all(none[i]["content"] == (i // 2 if i % 2 == 0 else -1) for i in range(40))  # no twin to compare
    most = SyntheticPairs(photos, 200, size=32, authentic_share=0.75)
    share = np.mean([most[i]["authentic"] for i in range(0, 200)])
    assert 0.65 < share < 0.85


def test_hard_authentic_photos_come_back_as_twins(tmp_path):
    from inharmony.data.synth.stream import hard_authentic_weights

    folder = make_photos(tmp_path / "p", n=4, size=(96, 72))
    photos, _ = index_photos(folder, test_fraction=0.0)
    hard = photos[2].path.stem
    scores = tmp_path / "summary.csv"  # as inharmony predict writes it: one photo flagged, one unscored
    scores.write_text(
        "file,inharmonious,score\n"
        + "".join(f"{p.path},{int(i == 2)},{0.9 if i == 2 else 0.0}\n" for i, p in enumerate(photos[:3]))
    )
    w = hard_authentic_weights(photos, scores, share=1.0)
    assert w.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert np.allclose(hard_authentic_weights(photos, scores), [0.125, 0.125, 0.625, 0.125])
    ds = SyntheticPairs(photos, 60, size=32, authentic_share=1.0, authentic_weights=w)
    stems = [ds[i]["name"].split("/")[1] for i in range(60)]
    assert all(ds[i]["authentic"] for i in range(60))
    assert set(stems[0::2]) == {hard}  # the twins that replace composites: the flagged photo only
    assert len(set(stems[1::2])) > 1  # the pairs' own twins keep the uniform draw
    same = SyntheticPairs(photos, 60, size=32, authentic_share=0.5)
    plain = SyntheticPairs(photos, 60, size=32, authentic_share=0.5, authentic_weights=w)
    assert all(same[i]["name"] == plain[i]["name"] for i in range(60))  # at one half no twin replaces a composite
    with pytest.raises(ValueError, match="one weight"):
        SyntheticPairs(photos, 8, size=32, authentic_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="not all 0"):
        SyntheticPairs(photos, 8, size=32, authentic_weights=[0.0] * 4)
    from inharmony.data.synth.stream import build_synthetic

    train, val = build_synthetic(folder, 8, 4, 32, 0, test_fraction=0.0, hard_authentic=str(scores))
    assert np.allclose(train.authentic_weights, [0.125, 0.125, 0.625, 0.125]) and val.authentic_weights is None
    (tmp_path / "bad.csv").write_text("path,p\nx,1\n")
    with pytest.raises(ValueError, match="bad.csv: columns 'file' and 'score'"):
        hard_authentic_weights(photos, tmp_path / "bad.csv")


def test_curriculum_moves_from_strong_to_subtle(tmp_path):
    photos, _ = index_photos(make_photos(tmp_path / "p", n=3), test_fraction=0.0)
    ds = SyntheticPairs(
        photos, 8, 32, cfg=SynthConfig(delta_e=(2.0, 6.0)), delta_e_start=(20.0, 40.0), curriculum_epochs=4
    )
    assert ds.config_at(0).delta_e == (20.0, 40.0) and ds.config_at(4).delta_e == (2.0, 6.0)
    assert ds.config_at(2).delta_e == (11.0, 23.0)


def test_pairs_stay_together_in_the_training_order():
    order = epoch_indices(20, epoch=3, seed=0, info=DistInfo(), group=2)
    assert sorted(order) == list(range(20)) and order != list(range(20))
    assert all(order[k] % 2 == 0 and order[k + 1] == order[k] + 1 for k in range(0, 20, 2))


def test_write_pairs_layout_manifest_and_reproducibility(tmp_path):
    root = make_bsds(tmp_path / "bsds", n=2)
    counts = write_pairs(root, tmp_path / "out", n=6, seed=1)
    assert counts["train"] == 3 and counts["test"] == 3
    rows = list(csv.DictReader(open(tmp_path / "out" / "manifest.csv", encoding="utf-8")))
    assert len(rows) == 6 and {r["split"] for r in rows} == {"train", "test"}
    for r in rows:
        for key in ("composite", "mask", "real"):
            assert (tmp_path / "out" / r[key]).is_file()
        assert r["kind"] in changes.KINDS and float(r["delta_e"]) > 0
        assert -200 < float(r["contrast_gain"]) < 200  # in-place changes: recorded for every pair
    assert all("images/test" in r["photo"] for r in rows if r["split"] == "test")
    write_pairs(root, tmp_path / "again", n=6, seed=1)
    for m in (tmp_path / "out/Synthetic/masks").iterdir():
        assert (tmp_path / "again/Synthetic/masks" / m.name).read_bytes() == m.read_bytes()


@pytest.mark.skipif(not SHARED_PHOTOS.is_dir(), reason="../shared/photos is not present")
def test_shared_photo_corpus_index():
    photos, report = index_photos(SHARED_PHOTOS)
    assert report["found"] == 1500 and report["kept"] > 1400
    assert sum(bool(p.segments) for p in photos) > 400
    assert all(p.split == "test" for p in photos if "/images/test/" in p.path.as_posix())


def test_object_maps_give_object_regions(tmp_path):
    from inharmony.data.synth.objects import object_labels

    folder = make_photos(tmp_path / "p", n=3, size=(96, 72))
    prob = np.zeros((72, 96), np.float32)
    prob[20:50, 30:70] = 0.9  # 17 % of the image
    prob[0:2, 0:2] = 0.9  # a speck below min_area: background
    labels = object_labels(prob)
    assert set(np.unique(labels)) == {1, 2} and (labels == 2).sum() == 30 * 40
    image = np.asarray(Image.open(sorted(folder.iterdir())[0]).convert("RGB"))
    snapped = object_labels(prob, image=image)
    assert 0.05 < (snapped == 2).mean() < 0.4
    (tmp_path / "obj").mkdir()
    for p in sorted(folder.iterdir()):
        Image.fromarray(labels).save(tmp_path / "obj" / f"{p.stem}.png")
    photos, report = index_photos(folder, test_fraction=0.0, objects=tmp_path / "obj")
    assert report["object_maps"] == 3 and all(p.objects is not None for p in photos)
    cfg = SynthConfig(object_share=1.0, shape_share=0.0)
    ds = SyntheticPairs(photos, 8, size=None, train=False, cfg=cfg)
    for p in range(3):
        pair, _ = ds.pair(p)
        assert pair.info["region_source"] == "object"
        assert np.array_equal(pair.mask > 0, labels == 2)


def test_paste_puts_another_photos_object_in_and_its_photo_is_the_twin(photo, tmp_path):
    donor_image = photo[1][:96, :128]
    labels = np.ones(donor_image.shape[:2], np.int32)
    labels[20:60, 30:80] = 2  # the donor's object: 2,000 px
    cfg = SynthConfig(kinds={"paste": 1.0}, jpeg_quality=None, feather_share=0.0)
    calls = []

    def donor():
        calls.append(1)
        return donor_image, [labels], []

    for seed in range(5):
        pair = make_pair(photo[0], np.random.default_rng(seed), None, None, cfg, donor=donor)
        region = pair.mask > 127
        assert pair.info["kind"] == "paste" and 0.01 <= region.mean() <= 0.5
        assert np.array_equal(pair.twin, donor_image)  # the object, unchanged, in its own scene
        assert np.array_equal(pair.composite[~region], photo[0][~region])  # the rest of the scene untouched
        assert not np.array_equal(pair.composite[region], photo[0][region])
    assert calls  # the donor is only read when the kind is drawn
    fallback = make_pair(photo[0], np.random.default_rng(0), None, photo[1].reshape(-1, 3)[::7] / 255.0, cfg)
    assert fallback.info["kind"] == "transfer"  # no donor: an in-place change instead
    with pytest.raises(ValueError, match="paste"):
        SynthConfig(kinds={"pasting": 1.0})


def test_stream_paste_twins_are_other_photos(tmp_path):
    photos, _ = index_photos(make_photos(tmp_path / "p", n=4, size=(96, 72)), test_fraction=0.0)
    ds = SyntheticPairs(photos, 20, size=48, seed=1, cfg=SynthConfig(kinds={"paste": 1.0}))
    pasted = 0
    for p in range(10):
        comp, twin = ds[2 * p], ds[2 * p + 1]
        assert twin["authentic"] and twin["mask"].sum() == 0 and comp["image"].shape == twin["image"].shape
        if comp["subset"] == "paste":
            pasted += 1
            outside = comp["mask"][0] == 0
            assert (comp["image"] - twin["image"]).abs()[:, outside].mean() > 0.05  # a different photo
            assert comp["content"] == twin["content"] == -1  # so no pixel-wise comparison
    assert pasted >= 5


def test_written_paste_set_and_its_statistics(tmp_path):
    from inharmony.cli.data_cmd import with_paste
    from inharmony.data.synth.stats import change_stats, stats_markdown

    assert with_paste({"a": 2.0, "b": 2.0}, 0.2) == {"a": 0.4, "b": 0.4, "paste": 0.2}
    assert with_paste({"a": 1.0}, 0.0) == {"a": 1.0}
    with pytest.raises(ValueError, match="--paste"):
        with_paste({"a": 1.0}, 1.5)
    root = make_bsds(tmp_path / "bsds", n=3)
    write_pairs(root, tmp_path / "out", n=12, seed=0, cfg=SynthConfig(kinds=with_paste(SynthConfig().kinds, 0.5)))
    rows = list(csv.DictReader(open(tmp_path / "out" / "manifest.csv", encoding="utf-8")))
    assert any(r["kind"] == "paste" for r in rows) and any(r["kind"] != "paste" for r in rows)
    stats, _ = change_stats(tmp_path / "out", size=64)
    assert stats["all"]["n"] == sum(r["kind"] != "paste" for r in rows)  # pasted objects have no MSE to compare
    assert np.isnan(stats["paste"]["mse_mean"]) and np.isfinite(stats["all"]["mse_mean"])
    assert "| paste | copy-paste |" in stats_markdown(stats)


def test_annotator_outline_is_a_rough_polygon_of_the_region():
    from inharmony.data.synth.regions import annotator_outline

    yy, xx = np.mgrid[:120, :160]
    blob = ((yy - 60) / 35) ** 2 + ((xx - 70) / 45) ** 2 + 0.3 * np.sin(xx / 3.0) < 1  # a wavy-edged object
    blob[5:12, 140:150] = True  # and a second, small part
    rng = np.random.default_rng(0)
    traced = annotator_outline(blob, rng)
    iou = (traced & blob).sum() / (traced | blob).sum()
    assert 0.85 < iou < 0.995  # the same object, but not its exact edge
    assert (traced & ~blob).any() and (blob & ~traced).any()  # spills over and misses, like a clicked polygon
    assert traced[5:12, 140:150].mean() > 0.5  # every part is traced
    assert np.array_equal(traced, annotator_outline(blob, np.random.default_rng(0)))  # seeded
    finer = annotator_outline(blob, np.random.default_rng(0), tolerance=(0.001, 0.001), jitter=0.0)
    assert (finer ^ blob).mean() < (traced ^ blob).mean()  # a tighter tolerance follows the edge closer


def test_outlined_regions_spill_the_change_over_the_seam(photo):
    reference = photo[1].reshape(-1, 3)[::7] / 255.0
    labels = np.ones(photo[0].shape[:2], np.int32)
    yy, xx = np.mgrid[: labels.shape[0], : labels.shape[1]]
    labels[((yy - 48) / 25) ** 2 + ((xx - 60) / 30) ** 2 + 0.25 * np.sin(xx / 2.5) < 1] = 2
    exact = SynthConfig(jpeg_quality=None, feather_share=0.0, shape_share=0.0)
    traced_cfg = SynthConfig(jpeg_quality=None, feather_share=0.0, shape_share=0.0, outline_share=1.0)
    outlined = 0
    for seed in range(6):
        a = make_pair(photo[0], np.random.default_rng(seed), [labels], reference, exact)
        assert a.info["outlined"] is False
        b = make_pair(photo[0], np.random.default_rng(seed), [labels], reference, traced_cfg)
        region = b.mask > 127
        assert np.array_equal(b.composite[~region], b.twin[~region])  # the mask is where the change is
        if b.info["outlined"]:
            outlined += 1
            segment = labels == (2 if (labels[region] == 2).mean() > 0.5 else 1)
            assert (region & ~segment).any() or (segment & ~region).any()  # not the segment's exact edge
    assert outlined >= 4
    with pytest.raises(ValueError, match="outline_share"):
        SynthConfig(outline_share=1.5)


def test_outlined_paste_cuts_the_donor_with_its_background(photo):
    yy, xx = np.mgrid[:96, :128]
    labels = np.ones((96, 128), np.int32)
    labels[((yy - 40) / 20) ** 2 + ((xx - 55) / 25) ** 2 + 0.3 * np.sin(xx / 2.0) < 1] = 2
    donor_image = np.zeros((96, 128, 3), np.uint8)
    donor_image[:] = (0, 255, 0)  # a green scene
    donor_image[labels == 2] = (200, 40, 40)  # around a red object

    def green_share(outline_share):
        cfg = SynthConfig(kinds={"paste": 1.0}, jpeg_quality=None, feather_share=0.0, outline_share=outline_share)
        shares = []
        for seed in range(6):
            pair = make_pair(
                photo[0], np.random.default_rng(seed), None, None, cfg, donor=lambda: (donor_image, [labels], [])
            )
            assert pair.info["kind"] == "paste" and np.array_equal(pair.twin, donor_image)
            inside = pair.composite[pair.mask > 127].astype(int)
            shares.append(((inside[:, 1] > 200) & (inside[:, 0] < 80)).mean())
        return float(np.mean(shares))

    assert green_share(1.0) > 2 * green_share(0.0) + 0.005  # the traced cut-out brings the donor's scene along


def test_random_look_is_a_seeded_global_change():
    from inharmony.data.synth.look import random_look

    image = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    image[:, 16:] = image[:, :16]  # the same colours on both halves
    assert random_look(image, np.random.default_rng(1), 0.0) is image
    out = random_look(image, np.random.default_rng(1), 1.0)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[:, 16:], out[:, :16])  # one colour map for the whole image: it stays authentic
    assert np.array_equal(out, random_look(image, np.random.default_rng(1), 1.0))
    assert not np.array_equal(out, random_look(image, np.random.default_rng(2), 1.0))

    def change(strength):
        rngs = [np.random.default_rng(s) for s in range(20)]
        return np.mean([np.abs(random_look(image, r, strength).astype(int) - image).mean() for r in rngs])

    assert 0 < change(0.25) < change(1.0)
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="photo_jitter"):
            random_look(image, np.random.default_rng(0), bad)


def test_photo_jitter_gives_composite_and_twin_one_look_in_training_only(tmp_path):
    photos, _ = index_photos(make_photos(tmp_path / "p", n=4, size=(96, 72)), test_fraction=0.0)
    plain = SyntheticPairs(photos, 20, size=48, seed=3)
    jittered = SyntheticPairs(photos, 20, size=48, seed=3, photo_jitter=1.0)
    moved = 0
    for p in range(10):
        comp, twin = jittered[2 * p], jittered[2 * p + 1]
        outside = comp["mask"][0] == 0
        assert (comp["image"] - twin["image"]).abs()[:, outside].mean() < 0.05  # the same look outside the region
        # same crop and flip as without the look (drawn first), another global colour
        moved += (twin["image"] - plain[2 * p + 1]["image"]).abs().mean() > 0.02
    assert moved >= 8
    val = SyntheticPairs(photos, 8, size=48, seed=3, train=False, photo_jitter=1.0)
    val_plain = SyntheticPairs(photos, 8, size=48, seed=3, train=False)
    assert val.photo_jitter == 0.0 and np.array_equal(val[1]["image"].numpy(), val_plain[1]["image"].numpy())
    with pytest.raises(ValueError, match="photo_jitter"):
        SyntheticPairs(photos, 8, size=48, photo_jitter=-1.0)


def test_crop_scale_sets_how_much_of_the_photo_a_training_crop_shows(tmp_path):
    ramp = np.tile(np.linspace(0, 255, 200).astype(np.uint8)[None, :, None], (150, 1, 3))  # a left-to-right ramp

    def spans(scale):  # the ramp's range a crop shows, one per draw
        rng = np.random.default_rng(0)
        return [np.ptp(view(ramp, [], 32, rng, crop_scale=scale)[0][..., 0].astype(int)) for _ in range(20)]

    small, large = spans((0.05, 0.1)), spans((0.9, 1.0))
    assert max(small) < 110 < min(large)  # width ≈ √area: at most ~0.37 of the ramp against at least ~0.82
    photos, _ = index_photos(make_photos(tmp_path / "p", n=3, size=(96, 72)), test_fraction=0.0)
    zoomed = SyntheticPairs(photos, 8, size=32, seed=1, crop_scale=(0.1, 0.1))
    assert zoomed.crop_scale == (0.1, 0.1) and zoomed[1]["image"].shape == (3, 32, 32)
    for bad in ((0.0, 1.0), (0.8, 0.5), (0.5, 1.5), 0.5, (0.5,)):
        with pytest.raises(ValueError, match="crop_scale"):
            SyntheticPairs(photos, 8, size=32, crop_scale=bad)


def test_harmonised_paste_moves_the_object_toward_the_scene_and_leaves_the_rest(photo):
    donor_image = np.zeros((96, 128, 3), np.uint8)
    donor_image[:] = (30, 30, 30)
    labels = np.ones((96, 128), np.int32)
    labels[20:60, 30:80] = 2
    donor_image[labels == 2] = (230, 40, 40)  # a saturated red object
    scene = photo[0][:96, :128]
    plain = SynthConfig(kinds={"paste": 1.0}, jpeg_quality=None, feather_share=0.0)
    tuned = SynthConfig(kinds={"paste": 1.0}, jpeg_quality=None, feather_share=0.0, paste_harmonise=1.0)
    closer, methods = 0, set()
    for seed in range(8):
        a = make_pair(scene, np.random.default_rng(seed), None, None, plain, donor=lambda: (donor_image, [labels], []))
        b = make_pair(scene, np.random.default_rng(seed), None, None, tuned, donor=lambda: (donor_image, [labels], []))
        assert "harmonised" not in a.info and b.info["harmonised"] in changes.TRANSFER_METHODS
        assert 0.2 <= b.info["harmonise_share"] <= 0.8
        methods.add(b.info["harmonised"])
        region = b.mask > 127
        assert np.array_equal(a.mask, b.mask)  # the same paste, only its colours moved
        assert np.array_equal(b.composite[~region], scene[~region]) and np.array_equal(b.twin, donor_image)
        scene_mean = scene[~region].mean(0)
        gap_a = np.abs(a.composite[region].mean(0) - scene_mean).sum()
        gap_b = np.abs(b.composite[region].mean(0) - scene_mean).sum()
        closer += gap_b < gap_a
    assert closer == 8 and len(methods) >= 2
    with pytest.raises(ValueError, match="paste_harmonise"):
        SynthConfig(paste_harmonise=1.5)
    with pytest.raises(ValueError, match="harmonise_amount"):
        SynthConfig(harmonise_amount=(0.9, 0.1))


def test_object_maps_default_to_the_kept_v1_model(tmp_path, monkeypatch):
    from inharmony.checkpoint import load_model
    from inharmony.data.synth.objects import SALIENT_V1, write_object_maps

    repo = Path(__file__).resolve().parents[1]
    v1 = load_model(repo / SALIENT_V1)  # the weights every recipe's object maps came from
    assert v1.model_name == "dirl_mobilenetv2" and "verdict" not in v1.model_config
    folder = make_photos(tmp_path / "p", n=2, size=(96, 72))
    monkeypatch.chdir(tmp_path)  # not the repository root: the default cannot be found
    with pytest.raises(FileNotFoundError, match="salient_v1.safetensors"):
        write_object_maps(folder, tmp_path / "obj")
    assert not (tmp_path / "obj").exists()
    monkeypatch.chdir(repo)
    counts = write_object_maps(folder, tmp_path / "obj")
    assert counts["written"] == 2 and counts["failed"] == 0
    assert len(list((tmp_path / "obj").glob("*.png"))) == 2


def test_object_regions_take_another_photos_object_as_reference(photo):
    from inharmony.data.synth.composer import object_pixels

    rng, photo = np.random.default_rng(0), photo[0]
    h, w = photo.shape[:2]
    labels = np.ones((h, w), np.uint8)
    labels[h // 4 : h // 2, w // 4 : w // 2] = 2  # one object, 6 % of the image
    other = np.zeros_like(photo)
    other[..., 2] = 230  # blue everywhere ...
    other[labels == 2] = (230, 20, 20)  # ... but its object is red
    picked = object_pixels(other, [labels], rng)
    assert picked is not None and np.allclose(picked.mean(0), [230 / 255, 20 / 255, 20 / 255])
    assert object_pixels(other, [np.ones((h, w), np.uint8)], rng) is None  # background only: no object
    assert object_pixels(other, [], rng) is None

    blue = np.tile([[0.05, 0.05, 0.9]], (500, 1))
    red = np.tile([[0.9, 0.05, 0.05]], (500, 1))
    base = {"kinds": {"transfer": 1.0}, "object_share": 1.0, "shape_share": 0.0, "jpeg_quality": None}
    for share, source, expected in ((1.0, "object", "object"), (0.0, "any", "any")):
        cfg = SynthConfig(**base, object_reference=share)
        pair = make_pair(photo, np.random.default_rng(5), [], blue, cfg, [labels], None, red)
        assert pair.info["region_source"] == "object" and pair.info["reference"] == expected
        moved = pair.composite[pair.mask > 0].astype(float).mean(0) - pair.twin[pair.mask > 0].astype(float).mean(0)
        toward_red = moved[0] - moved[2] > 0
        assert toward_red == (source == "object")
    with pytest.raises(ValueError, match="object_reference"):
        SynthConfig(object_reference=1.5)


def test_stream_object_reference_comes_from_the_other_photos_objects(tmp_path):
    folder = make_photos(tmp_path / "p", n=4, size=(96, 72))
    labels = np.ones((72, 96), np.uint8)
    labels[20:50, 30:70] = 2
    (tmp_path / "obj").mkdir()
    for p in sorted(folder.iterdir()):
        Image.fromarray(labels).save(tmp_path / "obj" / f"{p.stem}.png")
    photos, _ = index_photos(folder, test_fraction=0.0, objects=tmp_path / "obj")
    cfg = SynthConfig(kinds={"transfer": 1.0}, object_share=1.0, shape_share=0.0, object_reference=1.0)
    ds = SyntheticPairs(photos, 24, size=None, train=False, cfg=cfg)
    kinds = [ds.pair(p)[0].info for p in range(12)]
    transfers = [i for i in kinds if i["kind"] == "transfer"]
    assert len(transfers) >= 6 and all(i["reference"] == "object" for i in transfers)
    train, val = build_synthetic(folder, 8, 4, 48, 0, test_fraction=0.0, objects=tmp_path / "obj", cfg=cfg)
    assert train.cfg.object_reference == 1.0 and val.cfg.object_reference == 0.0  # validation: comparable
