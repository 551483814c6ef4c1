"""Several models × several evaluation sets in one pass, one table: the published protocol, the plain protocol and
the authentic-photo figures side by side.

A set is named on the command line as ``NAME=SPEC``:

- ``NAME=path/to/manifest.csv``: composites of a CSV manifest; its ``real`` images (where given) join the set
  as authentic photos (group ``authentic``). A manifest with a ``split`` column (``inharmony data synth``)
  gives its ``test`` rows only, and one without the grouping column one group, ``all``;
- ``NAME=ROOT`` or ``NAME=ROOT:LIST``: the test split (or a root-relative list) of an iHarmony4-layout root;
- ``NAME=swap:FOLDER``: the region-swap probe made from the held-out photos of FOLDER (with their originals);
- ``NAME=cutout:FOLDER,CUTOUTS``: the cut-out probe, RGBA cut-outs of CUTOUTS pasted into the held-out photos of
  FOLDER through their own mattes (with their originals); ``cutout_harmonised:`` the same pastes harmonised;
  ``cutout_matched:`` each photo gets the cut-out (of 12 drawn) whose mean colour is nearest its own;
  ``…,CUTOUTS,every`` pastes into every photo of FOLDER, not its held-out ones (a folder no model trained on);
- ``NAME=authentic:FOLDER`` (every photo) / ``NAME=heldout:FOLDER`` (test-split photos only) /
  ``NAME=authentic:skimage`` (scikit-image's photos): authentic photos.

Per image (at the network resolution, masks resized bilinearly and binarised at 0.5): AP, F1 and IoU under the
published protocol (per-image min-max normalisation), F1 and IoU under the plain one (raw probabilities > 0.5),
the predicted area (p > 0.5, or for a calibrated model p above the raw equivalent of 0.5), the maximum
probability and the image-level score (calibrated when the model is). Then means per set and group:
for composites the detection rate (score > 0.5: the verdict says "has a region"), for authentic photos the median
area, median maximum, false-alarm rate (score > 0.5), and the AUROC of the score for the set's composites against
its authentic photos. Detections and false alarms are the two sides of the verdict at the default threshold.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inharmony.engine.probes import EvalItem, authentic_folder, cutout_paste, region_swap, skimage_photos
from inharmony.imageio import read_image, read_mask
from inharmony.inference.predictor import Prediction
from inharmony.metrics import image_metrics
from inharmony.verdict import auroc


@dataclass
class EvalSet:
    name: str
    items: list[EvalItem]


def parse_set(spec: str, group_by: str = "source", swap_n: int = 100, seed: int = 0, split: str = "test") -> EvalSet:
    """An :class:`EvalSet` from ``NAME=SPEC`` (see the module docstring); ``split``: the rows a manifest with a
    split column gives (``test`` to evaluate; ``train`` to calibrate on data kept apart from every test set)."""
    name, sep, where = spec.partition("=")
    if not sep or not name or not where:
        raise ValueError(f"--data {spec!r}: expected NAME=SPEC, e.g. realdata=../shared/realdata/manifest.csv")
    kind, colon, rest = where.partition(":")
    if colon and kind in ("swap", "cutout", "cutout_harmonised", "cutout_matched", "authentic", "heldout"):
        if kind == "swap":
            return EvalSet(name, region_swap(rest, n=swap_n, seed=seed))
        if kind.startswith("cutout"):
            photos, comma, cutouts = rest.partition(",")
            cutouts, _, which = cutouts.partition(",")
            if not comma or not photos or not cutouts or which not in ("", "every"):
                raise ValueError(f"--data {spec!r}: expected NAME={kind}:PHOTO_FOLDER,CUTOUT_FOLDER[,every]")
            harmonised, matched = kind == "cutout_harmonised", 12 if kind == "cutout_matched" else 0
            items = cutout_paste(
                photos, cutouts, swap_n, seed, harmonised=harmonised, matched=matched, every_photo=which == "every"
            )
            return EvalSet(name, items)
        if rest == "skimage":
            return EvalSet(name, skimage_photos("authentic"))
        return EvalSet(name, authentic_folder(rest, held_out_only=kind == "heldout"))
    if where.endswith(".csv"):
        return EvalSet(name, manifest_items(Path(where), group_by, split))
    root, _, list_file = where.partition(":")
    return EvalSet(name, iharmony4_items(Path(root), list_file or None))


def manifest_items(path: Path, group_by: str, split: str = "test") -> list[EvalItem]:
    from inharmony.data.manifest import read_manifest

    samples = read_manifest(path, group_by=group_by, split=split, group_optional=True)
    items = [EvalItem(s.name, s.subset, path=s.composite, mask_path=s.mask) for s in samples]
    reals = sorted({s.real for s in samples if s.real != s.composite})
    items += [EvalItem(f"authentic/{p.relative_to(path.parent).as_posix()}", "authentic", path=p) for p in reals]
    return items


def iharmony4_items(root: Path, list_file: str | None) -> list[EvalItem]:
    from inharmony.data.iharmony4 import make_iharmony4_dataset

    samples = make_iharmony4_dataset(root, "test", list_file=list_file, check_files=False)  # missing: error rows
    return [EvalItem(s.name, s.subset, path=s.composite, mask_path=s.mask) for s in samples]


def load_item(item: EvalItem) -> tuple[Image.Image, np.ndarray | None]:
    """An item's RGB image and its mask in [0, 1] (None for an authentic photo); ValueError names a bad item."""
    image = Image.fromarray(item.image) if item.image is not None else read_image(item.path)
    if item.mask is not None:
        mask = item.mask.astype(np.float32) / 255.0
    elif item.mask_path is not None:
        mask = read_mask(item.mask_path)
    else:
        return image, None
    if mask.shape != (image.height, image.width):
        raise ValueError(f"{item.name}: mask is {mask.shape[1]}×{mask.shape[0]}, image {image.width}×{image.height}")
    return image, mask


def _resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    small = np.asarray(Image.fromarray(mask.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))
    return (small > 0.5).astype(np.float32)


def evaluate_sets(predictor, model: str, sets: list[EvalSet], batch_size: int = 8, progress=None) -> list[dict]:
    """Per-image rows of one model on every set (see the module docstring); unreadable items become error rows."""
    rows: list[dict] = []
    for eval_set in sets:
        items = eval_set.items if progress is None else progress(eval_set.items, desc=f"{model} · {eval_set.name}")
        batch: list[tuple[EvalItem, np.ndarray, np.ndarray | None]] = []
        for item in items:
            try:
                image, mask = load_item(item)
                batch.append((item, predictor.preprocess(image), mask))
            except ValueError as exc:
                rows.append(
                    {"model": model, "set": eval_set.name, "group": item.group, "name": item.name, "error": str(exc)}
                )
            if len(batch) == batch_size:
                rows += _score_batch(predictor, model, eval_set.name, batch)
                batch = []
        if batch:
            rows += _score_batch(predictor, model, eval_set.name, batch)
    return rows


def _score_batch(predictor, model: str, set_name: str, batch) -> list[dict]:
    prob, _ = predictor._forward(np.stack([b[1] for b in batch]), attention=False)
    size = prob.shape[-1]
    calibration = getattr(predictor, "calibration", None)
    out = []
    for (item, _, mask), p in zip(batch, prob):
        pred = Prediction(p, p.shape, calibration=calibration)  # the score and pixel threshold users get
        row = {
            "model": model,
            "set": set_name,
            "group": item.group,
            "name": item.name,
            "authentic": mask is None,
            "area": float((p > pred.pixel_threshold(0.5)).mean()),
            "max_p": float(p.max()),
            "score": pred.score,
            "raw_score": pred.raw_score,
        }
        if mask is not None:
            m = torch.from_numpy(_resize_mask(mask, size))[None]
            pt = torch.from_numpy(np.ascontiguousarray(p, dtype=np.float32))[None]
            pub, plain = image_metrics(pt, m, "published"), image_metrics(pt, m, "plain")
            row.update({k: float(v[0]) for k, v in pub.items()})
            row.update({f"{k}_plain": float(v[0]) for k, v in plain.items() if k != "ap"})
        out.append(row)
    return out


def _mean(values: list[float], scale: float = 1.0) -> float:
    return scale * float(np.mean(values)) if values else math.nan


def summarise(rows: list[dict]) -> list[dict]:
    """Summary rows per (model, set, group), a group ``overall`` per set and a set ``all`` per model."""
    scopes: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in rows:
        if "error" in r:
            continue
        scopes[(r["model"], r["set"], "overall")].append(r)
        scopes[(r["model"], "all", "overall")].append(r)
        scopes[(r["model"], r["set"], r["group"])].append(r)
    out = []
    for (model, set_name, group), rs in scopes.items():
        comp = [r for r in rs if not r["authentic"]]
        auth = [r for r in rs if r["authentic"]]
        out.append(
            {
                "model": model,
                "set": set_name,
                "group": group,
                "n": len(comp),
                "AP": _mean([r["ap"] for r in comp], 100),
                "F1": _mean([r["f1"] for r in comp]),
                "IoU": _mean([r["iou"] for r in comp], 100),
                "F1_plain": _mean([r["f1_plain"] for r in comp]),
                "IoU_plain": _mean([r["iou_plain"] for r in comp], 100),
                "area_composite": float(np.median([r["area"] for r in comp])) if comp else math.nan,
                "detected": _mean([float(r["score"] > 0.5) for r in comp]),
                "n_authentic": len(auth),
                "area_authentic": float(np.median([r["area"] for r in auth])) if auth else math.nan,
                "max_p_authentic": float(np.median([r["max_p"] for r in auth])) if auth else math.nan,
                "false_alarm": _mean([float(r["score"] > 0.5) for r in auth]),
                "AUROC": auroc([r["score"] for r in comp], [r["score"] for r in auth]),
            }
        )
    order = {"overall": 0}
    return sorted(out, key=lambda s: (s["model"], s["set"] == "all", s["set"], order.get(s["group"], 1), s["group"]))


def _f(value: float, digits: int = 2, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f} %" if pct else f"{value:.{digits}f}"


def glance(summary: list[dict]) -> str:
    """One row per model: each set's overall AP (published protocol), the share of all composites the verdict
    detects and, over every authentic photo of every set, the median predicted area, the false-alarm rate and the
    AUROC of all composites against them."""
    sets = list(dict.fromkeys(s["set"] for s in summary if s["set"] != "all" and s["group"] == "overall" and s["n"]))
    head = "| model | " + " | ".join(f"{x} AP" for x in sets) + " | detected | authentic area | false alarms | AUROC |"
    lines = [head, "|---|" + "---:|" * (len(sets) + 4)]
    by = {(s["model"], s["set"], s["group"]): s for s in summary}
    for model in dict.fromkeys(s["model"] for s in summary):
        cells = [_f(by[(model, x, "overall")]["AP"]) if (model, x, "overall") in by else "–" for x in sets]
        a = by.get((model, "all", "overall"))
        rates = ("detected", "area_authentic", "false_alarm")
        tail = [_f(a[k], pct=True) for k in rates] + [_f(a["AUROC"], 3)] if a else []
        lines.append(f"| {model} | " + " | ".join(cells + tail) + " |")
    return "\n".join(lines) + "\n"


def markdown(summary: list[dict], groups: bool = True) -> str:
    """Three markdown tables: each model at a glance, localisation on composites, and the authentic-photo figures."""
    loc = [
        "| model | set | group | n | AP | F1 | IoU | F1 plain | IoU plain | area (composites) | detected |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    auth = [
        "| model | set | authentic photos | median area | median max p | false alarms (score > 0.5) | AUROC |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    groups_in = defaultdict(int)  # a set with a single group: its group row would repeat the overall row
    for s in summary:
        if s["group"] != "overall" and s["n"]:
            groups_in[(s["model"], s["set"])] += 1
    for s in summary:
        single = s["group"] != "overall" and groups_in[(s["model"], s["set"])] < 2
        if s["n"] and (groups or s["group"] == "overall") and s["set"] != "all" and not single:
            loc.append(
                f"| {s['model']} | {s['set']} | {s['group']} | {s['n']} | {_f(s['AP'])} | {_f(s['F1'], 4)} | "
                f"{_f(s['IoU'])} | {_f(s['F1_plain'], 4)} | {_f(s['IoU_plain'])} | "
                f"{_f(s['area_composite'], pct=True)} | {_f(s['detected'], pct=True)} |"
            )
        if s["n_authentic"] and s["group"] == "overall":
            auth.append(
                f"| {s['model']} | {s['set']} | {s['n_authentic']} | {_f(s['area_authentic'], pct=True)} | "
                f"{_f(s['max_p_authentic'], 3)} | {_f(s['false_alarm'], pct=True)} | {_f(s['AUROC'], 3)} |"
            )
    return glance(summary) + "\n" + "\n".join(loc) + "\n\n" + "\n".join(auth) + "\n"


def write_rows(path: Path, rows: list[dict]) -> None:
    from inharmony.fileio import atomic_path

    keys = [
        "model",
        "set",
        "group",
        "name",
        "authentic",
        "ap",
        "f1",
        "iou",
        "f1_plain",
        "iou_plain",
        "area",
        "max_p",
        "score",
        "raw_score",
        "error",
    ]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
