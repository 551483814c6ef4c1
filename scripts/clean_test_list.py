"""Write a test list without composites whose real photo is a near-duplicate of a training photo.

Usage: python scripts/clean_test_list.py ROOT [--subset Synthetic] [--out test_clean.txt]

Photos are compared with a 64-bit average hash (the same picture at another resolution gets the same hash).
The synthetic set behind the shipped model was written from a corpus that held one wallpaper at 12 resolutions
and a few other copies (fixed in `inharmony data photos` since); this removes the test composites they leak into.
"""

import argparse
import csv
from pathlib import Path

from PIL import Image

from inharmony.data.corpus import average_hash
from inharmony.data.iharmony4 import make_iharmony4_dataset
from inharmony.fileio import write_text_atomic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--subset", default="Synthetic")
    parser.add_argument("--out", default="test_clean.txt", help="list file written under ROOT")
    args = parser.parse_args()
    root = Path(args.root)
    rows = list(csv.DictReader(open(root / args.subset / "photos.csv", encoding="utf-8")))
    hashes = {r["id"]: average_hash(Image.open(r["photo"])) for r in rows}
    train_hashes = {hashes[r["id"]] for r in rows if r["split"] == "train"}
    leaked = {r["id"] for r in rows if r["split"] == "test" and hashes[r["id"]] in train_hashes}
    test = make_iharmony4_dataset(root, "test", subsets=[args.subset])
    kept = [s.name for s in test if s.real.stem not in leaked]
    write_text_atomic(root / args.out, "".join(f"{n}\n" for n in kept))
    print(
        f"{len(kept)} of {len(test)} test composites kept; {len(leaked)} test photos duplicate a training photo: "
        f"{sorted(leaked)}"
    )


if __name__ == "__main__":
    main()
