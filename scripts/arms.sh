#!/usr/bin/env bash
# A controlled comparison (issue 21): short runs from the same weights with the same config, data, seed and
# samples, differing only in the settings each arm names; then one evaluation of all of them beside the start
# on the sets of scripts/eval_sets.sh.
#   bash scripts/arms.sh CONFIG START OUT ARM:KEY=VALUE[,KEY=VALUE...] ... [-- extra 'inharmony train' args]
# e.g. bash scripts/arms.sh configs/paste_arms.yaml checkpoints/default_v2/weights.safetensors runs/paste_arms \
#          quarter:data.kinds.paste=0.3333 half:data.kinds.paste=1.0
# Each arm's wall time goes to OUT/minutes.txt; a finished arm (OUT/ARM/version_0/best.safetensors) is not rerun.
set -euo pipefail
CONFIG=$1
START=$2
OUT=$3
shift 3
arms=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do arms+=("$1"); shift; done
[ $# -gt 0 ] && shift  # the extra train args follow "--"
[ ${#arms[@]} -gt 0 ] || { echo "arms.sh: name at least one ARM:KEY=VALUE" >&2; exit 2; }
BIN=${INHARMONY:-.venv/bin/inharmony}
PHOTOS=${PHOTOS:-../shared/photos}
models=(--model "$START")
for spec in "${arms[@]}"; do
    arm=${spec%%:*}
    settings=()
    IFS=, read -ra pairs <<< "${spec#*:}"
    for pair in "${pairs[@]}"; do settings+=(--set "$pair"); done
    start=$(date +%s)
    if [ ! -f "$OUT/$arm/version_0/best.safetensors" ]; then
        "$BIN" train --config "$CONFIG" --photos "$PHOTOS" --out "$OUT" --name "$arm" \
            --set model.init="$START" "${settings[@]}" "$@"
    fi
    echo "$arm: $(( $(date +%s) - start )) s" | tee -a "$OUT/minutes.txt"
    models+=(--model "$OUT/$arm/version_0/best.safetensors")
done
# shellcheck source=scripts/eval_sets.sh
source "$(dirname "$0")/eval_sets.sh"
"$BIN" evaluate "${models[@]}" "${sets[@]}" --out "$OUT/evaluation" --no-groups
