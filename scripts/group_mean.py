"""Mean AP/F1/IoU over the images of a per_image.csv whose manifest column matches one of the given values.

Usage: python scripts/group_mean.py EVAL/default__realdata/per_image.csv MANIFEST.csv --column subset \\
           --values HAdobe5k HAdobe5k_inferred HCOCO_inferred HCOCO_pipeline_demo HFlickr
"""

import argparse
import csv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("per_image")
    parser.add_argument("manifest")
    parser.add_argument("--column", default="subset")
    parser.add_argument("--values", nargs="+", required=True)
    args = parser.parse_args()
    group = {r["composite"]: r[args.column] for r in csv.DictReader(open(args.manifest, encoding="utf-8"))}
    rows = [r for r in csv.DictReader(open(args.per_image, encoding="utf-8")) if group.get(r["name"]) in args.values]
    if not rows:
        raise SystemExit("no image matches")
    n = len(rows)
    print(
        f"{n} images: AP {100 * sum(float(r['ap']) for r in rows) / n:.2f}  "
        f"F1 {sum(float(r['f1']) for r in rows) / n:.4f}  IoU {100 * sum(float(r['iou']) for r in rows) / n:.2f}"
    )


if __name__ == "__main__":
    main()
