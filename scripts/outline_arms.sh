#!/usr/bin/env bash
# Controlled comparison of exact against annotator-traced regions (configs/outline_arms.yaml): two short runs
# from the same weights with the same data, seed and samples, then one evaluation of both beside the start.
#   bash scripts/outline_arms.sh START.safetensors [OUT=runs/outline_arms] [extra 'inharmony train' args]
# Needs ../shared/photos and the object maps (inharmony data objects --photos ../shared/photos --out data/objects);
# ../shared/realdata is measured when present (never trained on); data/synth_v2 and data/synth_v2_outline
# (inharmony data synth ... --outline 1.0) join the table when present.
set -euo pipefail
START=$1
OUT=${2:-runs/outline_arms}
shift 2 || shift || true
BIN=${INHARMONY:-.venv/bin/inharmony}
PHOTOS=${PHOTOS:-../shared/photos}
declare -A SHARE=([exact]=0.0 [outlined]=0.5)
models=(--model "$START")
for arm in exact outlined; do
    start=$(date +%s)
    if [ ! -f "$OUT/$arm/version_0/best.safetensors" ]; then
        "$BIN" train --config configs/outline_arms.yaml --photos "$PHOTOS" --out "$OUT" --name "$arm" \
            --set model.init="$START" --set data.outline_share="${SHARE[$arm]}" "$@"
    fi
    echo "$arm: $(( $(date +%s) - start )) s" | tee -a "$OUT/minutes.txt"
    models+=(--model "$OUT/$arm/version_0/best.safetensors")
done
# shellcheck source=scripts/eval_sets.sh
source "$(dirname "$0")/eval_sets.sh"
"$BIN" evaluate "${models[@]}" "${sets[@]}" --out "$OUT/evaluation" --no-groups
