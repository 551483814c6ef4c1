#!/usr/bin/env bash
# Controlled comparison of the colour arms (issue 21, item 2): three short runs with the same data, seed and
# samples (configs/colour_arms.yaml), a fourth with copy-paste composites added to the data, then one evaluation
# of all four beside the shipped default.
#   bash scripts/colour_arms.sh [OUT=runs/colour_arms] [extra 'inharmony train' args, e.g. --set train.max_steps=40]
# Needs ../shared/photos and the object maps (inharmony data objects --photos ../shared/photos --out data/objects).
# ../shared/realdata is measured when present (never trained on).
set -euo pipefail
OUT=${1:-runs/colour_arms}
shift || true
BIN=${INHARMONY:-.venv/bin/inharmony}
PHOTOS=${PHOTOS:-../shared/photos}
declare -A ARMS=([plain]=dirl_mobilenetv2_plain_verdict [stream]=dirl_mobilenetv2_verdict
    [madisnet]=madisnet_mobilenetv2_verdict [stream_paste]=dirl_mobilenetv2_verdict)
# the fourth arm changes the data, not the model: a quarter of the composites are copy-paste ones
declare -A DATA=([plain]="" [stream]="" [madisnet]="" [stream_paste]="--set data.kinds.paste=0.3333")
models=()
for arm in plain stream madisnet stream_paste; do
    start=$(date +%s)
    if [ ! -f "$OUT/$arm/version_0/best.safetensors" ]; then
        # shellcheck disable=SC2086
        "$BIN" train --config configs/colour_arms.yaml --photos "$PHOTOS" --out "$OUT" --name "$arm" \
            --set model.name="${ARMS[$arm]}" ${DATA[$arm]} "$@"
    fi
    echo "$arm: $(( $(date +%s) - start )) s" | tee -a "$OUT/minutes.txt"
    models+=(--model "$OUT/$arm/version_0/best.safetensors")
done
# shellcheck source=scripts/eval_sets.sh
source "$(dirname "$0")/eval_sets.sh"
# EXTRA_MODELS="a.safetensors b.onnx": more models in the same table (e.g. the long run's weights)
for extra in ${EXTRA_MODELS:-}; do models+=(--model "$extra"); done
"$BIN" evaluate --model default "${models[@]}" "${sets[@]}" --out "$OUT/evaluation" --no-groups
