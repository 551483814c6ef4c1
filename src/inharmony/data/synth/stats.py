"""How strong are the changes of a written synthetic set, per kind, and how does that compare with iHarmony4?

From ``manifest.csv`` (written by :func:`inharmony.data.synth.stream.write_pairs`): the mean ΔE, luminance
shift ΔL and chroma shift ΔC* inside each region, and the whole-image MSE between composite and real image at
256×256, the measure the iHarmony4 paper reports for its composites (Cong et al., "DoveNet", CVPR 2020, Table 1,
row "input composite": MSE 69.37 HCOCO, 345.54 HAdobe5k, 264.35 HFlickr, 109.65 Hday2night, 172.47 overall).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

IHARMONY4_COMPOSITE_MSE = {"HCOCO": 69.37, "HAdobe5k": 345.54, "HFlickr": 264.35, "Hday2night": 109.65, "all": 172.47}
KIND_LIKE = {"transfer": "HCOCO / HFlickr", "retouch": "HAdobe5k", "lighting": "Hday2night", "paste": "copy-paste"}


def _mse(a: Path, b: Path, size: int) -> float:
    x = np.asarray(Image.open(a).convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float64)
    y = np.asarray(Image.open(b).convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float64)
    return float(((x - y) ** 2).mean())


def change_stats(root: str | Path, size: int = 256) -> tuple[dict[str, dict], dict[str, dict[str, list[float]]]]:
    """Per kind (and ``all``): quantiles of ΔE, ΔL, ΔC*, region area and whole-image MSE; and the raw values."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found (write the set with 'inharmony data synth')")
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in csv.DictReader(open(manifest, encoding="utf-8")):
        # a pasted object has no unchanged version (its twin is the donor photo): its ΔE is against its
        # surroundings and its MSE says nothing, so it is reported on its own row and kept out of "all"
        pasted = row["kind"] == "paste"
        mse = float("nan") if pasted else _mse(root / row["composite"], root / row["real"], size)
        for kind in (row["kind"],) if pasted else (row["kind"], "all"):
            for key in ("delta_e", "delta_l", "delta_chroma", "area"):
                values[kind][key].append(float(row[key]))
            values[kind]["mse"].append(mse)
    stats = {
        kind: {
            "n": len(v["delta_e"]),
            **{f"{k}_median": float(np.median(v[k])) for k in v},
            **{f"{k}_p10": float(np.percentile(v[k], 10)) for k in ("delta_e", "mse")},
            **{f"{k}_p90": float(np.percentile(v[k], 90)) for k in ("delta_e", "mse")},
            "mse_mean": float(np.mean(v["mse"])),
        }
        for kind, v in values.items()
    }
    return stats, values


def stats_markdown(stats: dict[str, dict]) -> str:
    lines = [
        "| kind | like | n | ΔE median (p10–p90) | ΔL median | ΔC* median | area median | MSE mean (median) | "
        "iHarmony4 composite MSE |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in sorted(stats, key=lambda k: (k == "all", k)):
        s = stats[kind]
        like = KIND_LIKE.get(kind, "iHarmony4")
        if kind == "all":
            ref = f"{IHARMONY4_COMPOSITE_MSE['all']:.0f}"
        elif all(x.strip() in IHARMONY4_COMPOSITE_MSE for x in like.split("/")):
            ref = " / ".join(f"{IHARMONY4_COMPOSITE_MSE[x.strip()]:.0f}" for x in like.split("/"))
        else:
            ref = "–"
        lines.append(
            f"| {kind} | {like} | {s['n']} | "
            f"{s['delta_e_median']:.1f} ({s['delta_e_p10']:.1f}–{s['delta_e_p90']:.1f}) | "
            f"{s['delta_l_median']:+.1f} | {s['delta_chroma_median']:+.1f} | {100 * s['area_median']:.1f} % | "
            + (f"{s['mse_mean']:.0f} ({s['mse_median']:.0f})" if np.isfinite(s["mse_mean"]) else "–")
            + f" | {ref} |"
        )
    return "\n".join(lines)


def plot_change_stats(values: dict[str, dict[str, list[float]]], out: str | Path) -> Path:
    """Histograms of ΔE, ΔL, ΔC* and whole-image MSE per kind, with iHarmony4's composite MSE marked."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ValueError("the figure needs matplotlib: pip install 'inharmony[plots]'") from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in sorted(values) if k != "all"]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, key, label in zip(
        axes,
        ("delta_e", "delta_l", "delta_chroma", "mse"),
        ("mean ΔE in the region", "ΔL (luminance shift)", "ΔC* (chroma shift)", "whole-image MSE at 256²"),
    ):
        data = [[x for x in values[k][key] if np.isfinite(x)] for k in kinds]  # a pasted object has no MSE
        bins = np.geomspace(1, 5000, 30) if key == "mse" else 30
        ax.hist(data, bins=bins, label=kinds, stacked=True)
        if key == "mse":
            ax.set_xscale("log")
            for name, v in IHARMONY4_COMPOSITE_MSE.items():
                ax.axvline(v, color="k", lw=0.8, ls="--")
                ax.text(v, ax.get_ylim()[1] * 0.95, name, rotation=90, va="top", fontsize=7)
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
