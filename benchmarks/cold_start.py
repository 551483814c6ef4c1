"""What a new user feels: a fresh core install, one photo end to end, a folder by default (issue 17's targets).

Usage: python benchmarks/cold_start.py [--core-venv /tmp/core] [--repeats 5] [--folder-images 200]
           [--out benchmarks/results/cold_start.json]

- ``install``: ``python -m venv DIR && DIR/bin/pip install .`` (the core install: no torch), timed, when --core-venv
  is given (pip's cache as it is on the machine);
- ``one_image``: ``inharmony predict one.jpg --out DIR`` with the shipped model on a 640×480 photo, process start
  included: median wall time and peak resident memory (VmHWM of that process), for the full install (this
  interpreter) and the core one; ``one_large_image``: the same on a 1749×1166 photo;
- ``folder``: ``inharmony predict FOLDER --save mask`` on mixed-size JPEGs, no other flag: images/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from PIL import Image  # noqa: E402
from speed import make_folder  # noqa: E402

from inharmony.fileio import write_text_atomic  # noqa: E402

RUN = (
    "import sys; from inharmony.cli.main import main; rc = main(sys.argv[1:]);"
    "print('VmHWM', [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]);"
    "print('torch', 'torch' in sys.modules); sys.exit(rc)"
)


def predict(python: str, args: list[str]) -> tuple[float, float, bool]:
    start = time.perf_counter()
    done = subprocess.run([python, "-c", RUN, "predict", *args], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("VmHWM", "torch")))
    return seconds, int(lines["VmHWM"]) / 1024, lines["torch"] == "True"


def one_image(python: str, photo: Path, repeats: int) -> dict:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            runs.append(predict(python, [str(photo), "--out", tmp]))
    return {
        "seconds_median": round(statistics.median(r[0] for r in runs), 3),
        "peak_mb_median": round(statistics.median(r[1] for r in runs), 1),
        "torch_imported": any(r[2] for r in runs),
        "outputs": "mask, overlay, heatmap (the defaults)",
    }


def folder(python: str, photos: Path, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        seconds, peak, torch_imported = predict(python, [str(photos), "--out", tmp, "--save", "mask"])
    return {
        "images": n,
        "seconds": round(seconds, 2),
        "images_per_s": round(n / seconds, 2),
        "peak_mb": round(peak, 1),
        "torch_imported": torch_imported,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--core-venv", help="make a fresh core install here and measure it too")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder-images", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/cold_start.json")
    args = parser.parse_args()
    result: dict = {"machine": f"{platform.machine()}, {platform.python_version()}"}
    pythons = {"full": sys.executable}
    if args.core_venv:
        venv = Path(args.core_venv)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", "."], check=True)
        result["install_core_s"] = round(time.perf_counter() - start, 1)
        pythons["core"] = str(venv / "bin/python")
        check = subprocess.run([pythons["core"], "-c", "import torch"], capture_output=True)
        result["core_has_torch"] = check.returncode == 0
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        make_folder(photos, args.folder_images)
        large = sorted(photos.iterdir())[0]
        small = Path(tmp) / "one.jpg"
        Image.open(large).resize((640, 480)).save(small, quality=90)
        for label, python in pythons.items():
            result[f"one_image_{label}"] = one_image(python, small, args.repeats)
            result[f"one_large_image_{label}"] = one_image(python, large, args.repeats)
            result[f"folder_{label}"] = folder(python, photos, args.folder_images)
    print(json.dumps(result, indent=2))
    write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
