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
exec bash "$(dirname "$0")/arms.sh" configs/outline_arms.yaml "$START" "$OUT" \
    exact:data.outline_share=0.0 outlined:data.outline_share=0.5 -- "$@"
