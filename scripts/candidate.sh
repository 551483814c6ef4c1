#!/usr/bin/env bash
# The shipping rule's check of one model file (issue 21): calibrated as the shipped default was (data/calib_v1, one
# composite in three), evaluated image by image on the sets that decide (`deciding` in scripts/eval_sets.sh), then
# compared with the default measured the same way: paired gaps with 95 % intervals, and detections at the
# default's own false-alarm rate on the held-out photos.
#   bash scripts/candidate.sh MODEL OUT [REFERENCE]
# MODEL: a model file (.safetensors, as scripts/ship_model.py writes it). OUT gets model_cal.safetensors,
# evaluation/ (per_image.csv), paired.md/.json and matched.md/.json. REFERENCE (default eval/reference_default): the
# default's evaluation on the same sets; made once when it holds no per_image.csv, reused after.
# CALIBRATE=0 measures MODEL as it is (a file calibrated already). Where PHOTOS holds the ImageNet sample and the
# BSDS500 photos, the calibrated model also predicts them all and OUT gets seen.md/.json: its flags on the photos the
# synthetic recipes train on against the held-out ones, beside the default's (benchmarks/seen_photo_gap.py; the
# default's predictions are made once under REFERENCE/photos); SEEN=0 skips it.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bash scripts/candidate.sh MODEL OUT [REFERENCE]" >&2; exit 2; }
MODEL=$1
OUT=$2
REFERENCE=${3:-eval/reference_default}
[ -f "$MODEL" ] || { echo "candidate.sh: no model file $MODEL" >&2; exit 2; }
BIN=${INHARMONY:-.venv/bin/inharmony}
PYTHON=${PYTHON:-.venv/bin/python}
PHOTOS=${PHOTOS:-../shared/photos}
# shellcheck source=scripts/eval_sets.sh
source "$(dirname "$0")/eval_sets.sh"
mkdir -p "$OUT"
if [ ! -f "$REFERENCE/per_image.csv" ]; then
    "$BIN" evaluate --model default "${deciding[@]}" --out "$REFERENCE" --no-groups --per-image
fi
measured=$MODEL
if [ "${CALIBRATE:-1}" != 0 ]; then
    measured=$OUT/model_cal.safetensors
    "$BIN" calibrate --model "$MODEL" --data calib=data/calib_v1/manifest.csv --prior 0.3333 --out "$measured"
fi
"$BIN" evaluate --model "$measured" "${deciding[@]}" --out "$OUT/evaluation" --no-groups --per-image
"$PYTHON" benchmarks/paired_difference.py "$REFERENCE" "$OUT/evaluation" --out "$OUT/paired.json" \
    | tee "$OUT/paired.md"
"$PYTHON" benchmarks/matched_detection.py "$REFERENCE" "$OUT/evaluation" --out "$OUT/matched.json" \
    | tee "$OUT/matched.md"
seen=("$PHOTOS/imagenet-sample" "$PHOTOS/bsds500/images")
if [ "${SEEN:-1}" != 0 ] && [ -d "${seen[0]}" ] && [ -d "${seen[1]}" ]; then
    if [ ! -f "$REFERENCE/photos/summary.csv" ]; then
        "$BIN" predict "${seen[@]}" --model default --out "$REFERENCE/photos" --save mask > /dev/null
    fi
    "$BIN" predict "${seen[@]}" --model "$measured" --out "$OUT/photos" --save mask > /dev/null
    "$PYTHON" benchmarks/seen_photo_gap.py "$REFERENCE/photos/summary.csv" "$OUT/photos/summary.csv" \
        --photos "$PHOTOS" --out "$OUT/seen.json" | tee "$OUT/seen.md"
fi
