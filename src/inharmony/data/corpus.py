"""Assemble the offline photo corpus: real photographs (and object cut-outs) from Debian and Python packages.

Every photo is copied (as JPEG, long side ≤ ``max_side``) under ``out/photos/<source>/`` and every
source's licence text under ``out/licenses/``; ``out/SOURCES.csv`` lists file, source and licence.
Cut-outs with alpha (``tuxpaint-stamps-default``) go under ``out/cutouts/``.
"""

from __future__ import annotations

import csv
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from inharmony.fileio import atomic_path

log = logging.getLogger(__name__)

DEBIAN_PHOTO_PACKAGES = (
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "opencv-doc",
    "palapeli-data",
)
DEBIAN_CUTOUT_PACKAGE = "tuxpaint-stamps-default"
# Only these folders of a package hold photographs (opencv-doc's html/ holds tutorial screenshots).
PHOTO_FOLDERS = {"opencv-doc": "examples/data"}
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
SKIMAGE_LICENCE = "scikit-image data: see skimage/data/README.txt (public domain / CC0 / permissive, per image)"


def is_photo_like(img: Image.Image, min_side: int) -> bool:
    """Large enough, in colour, and not flat graphics (enough distinct colours)."""
    if min(img.size) < min_side:
        return False
    small = np.asarray(img.convert("RGB").resize((64, 64)), dtype=np.int16)
    saturation = (small.max(-1) - small.min(-1)).mean()
    distinct = len(np.unique(small.reshape(-1, 3) // 8, axis=0))
    return saturation > 12 and distinct > 300


def average_hash(img: Image.Image) -> int:
    """64-bit average hash: the same photo at another resolution or quality gets the same value."""
    a = np.asarray(img.convert("L").resize((8, 8), Image.BILINEAR), dtype=np.float64)
    return int("".join("1" if v else "0" for v in (a > a.mean()).ravel()), 2)


def save_photo(img: Image.Image, path: Path, max_side: int) -> None:
    img = img.convert("RGB")
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    with atomic_path(path) as tmp:
        img.save(tmp, format="JPEG", quality=94)


def fetch_debian_package(name: str, workdir: Path) -> Path | None:
    """``apt-get download`` + ``dpkg-deb -x`` into ``workdir/name``; None (logged) when unavailable."""
    try:
        subprocess.run(["apt-get", "download", name], cwd=workdir, check=True, capture_output=True, timeout=600)
        deb = next(workdir.glob(f"{name}_*.deb"))
        target = workdir / name
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True, capture_output=True, timeout=600)
        return target
    except (subprocess.SubprocessError, FileNotFoundError, StopIteration) as exc:
        log.warning("Debian package %s not available (%s); skipped", name, exc)
        return None


def copy_licence(tree: Path, package: str, out: Path) -> str:
    src = tree / "usr/share/doc" / package / "copyright"
    if src.is_file():
        dst = out / "licenses" / f"{package}.copyright"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return f"licenses/{package}.copyright"
    return "see the package's copyright file"


def assemble_photo_corpus(
    out: str | Path,
    packages: tuple[str, ...] = DEBIAN_PHOTO_PACKAGES,
    cutouts: bool = True,
    python_sources: bool = True,
    min_side: int = 300,
    max_side: int = 2048,
    progress=None,
) -> list[dict]:
    """Build the corpus under ``out``; returns one record per photo (and cut-out) written."""
    out = Path(out)
    records: list[dict] = []
    if python_sources:
        from skimage import data as skdata

        for name in SKIMAGE_PHOTOS:
            try:
                img = Image.fromarray(getattr(skdata, name)())
            except Exception as exc:  # noqa: BLE001 - some skimage images need a download
                log.warning("skimage image %s unavailable (%s)", name, exc)
                continue
            path = out / "photos" / "scikit-image" / f"{name}.jpg"
            save_photo(img, path, max_side)
            records.append(
                {"file": path.relative_to(out).as_posix(), "source": "scikit-image", "licence": SKIMAGE_LICENCE}
            )
    seen: dict[int, tuple[int, Path]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wanted = list(packages) + ([DEBIAN_CUTOUT_PACKAGE] if cutouts else [])
        for package in wanted if progress is None else progress(wanted):
            tree = fetch_debian_package(package, work)
            if tree is None:
                continue
            licence = copy_licence(tree, package, out)
            kind = "cutouts" if package == DEBIAN_CUTOUT_PACKAGE else "photos"
            for src in sorted(tree.rglob("*")):
                if src.suffix.lower() not in (".jpg", ".jpeg", ".png") or not src.is_file():
                    continue
                if package in PHOTO_FOLDERS and PHOTO_FOLDERS[package] not in src.as_posix():
                    continue
                try:
                    img = Image.open(src)
                    img.load()
                except OSError:
                    continue
                # Unique names (wallpapers ship as <Name>/contents/images/<W>x<H>.jpg), and one copy per photo:
                # the largest of the resolutions of the same image, so that no photo lands in both splits.
                parts = src.relative_to(tree).with_suffix("").parts
                rel_name = "__".join(p for p in parts[-4:] if p not in ("contents", "images"))
                if kind == "photos":
                    key = average_hash(img)
                    if key in seen and seen[key][0] >= img.width * img.height:
                        continue
                    if key in seen:
                        seen[key][1].unlink(missing_ok=True)
                        records[:] = [r for r in records if r["file"] != seen[key][1].relative_to(out).as_posix()]
                if kind == "cutouts":
                    if "A" not in img.getbands() or min(img.size) < 48:
                        continue
                    dst = out / "cutouts" / f"{rel_name}.png"
                    with atomic_path(dst) as t:
                        img.convert("RGBA").save(t, format="PNG")
                else:
                    if not is_photo_like(img, min_side):
                        continue
                    dst = out / "photos" / package / f"{rel_name}.jpg"
                    save_photo(img, dst, max_side)
                    seen[average_hash(img)] = (img.width * img.height, dst)
                records.append(
                    {"file": dst.relative_to(out).as_posix(), "source": f"Debian {package}", "licence": licence}
                )
    with atomic_path(out / "SOURCES.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "source", "licence"])
        writer.writeheader()
        writer.writerows(records)
    return records
