#!/usr/bin/env bash
# Evaluate models and the parameter-free references on the synthetic test split and on the real composites,
# with the published protocol at 256×256, writing EVAL_DIR/<model>__<set>/results.json.
# Usage: [SYNTH_LIST=test_clean.txt] [SIZE=256] scripts/evaluate_models.sh SYNTH_ROOT REALDATA_MANIFEST EVAL_DIR MODEL [MODEL ...]
#   MODEL: a model file, a shipped model name (default) or reference_whole_image / _centre_prior / _colour_stats
set -euo pipefail
synth=$1 manifest=$2 out=$3
shift 3
size=${SIZE:-256}
list_args=()
[ -n "${SYNTH_LIST:-}" ] && list_args=(--list "$SYNTH_LIST")
for model in "$@"; do
    tag=$(basename "$model" .safetensors)
    .venv/bin/inharmony evaluate --model "$model" --root "$synth" "${list_args[@]}" --size "$size" --workers 1 \
        --out "$out/${tag}__synthetic"
    if [ -f "$manifest" ]; then
        .venv/bin/inharmony evaluate --model "$model" --manifest "$manifest" --size "$size" --workers 1 \
            --out "$out/${tag}__realdata" --per-image
        .venv/bin/inharmony evaluate --model "$model" --manifest "$manifest" --size "$size" --workers 1 \
            --group-by subset --out "$out/${tag}__realdata-by-subset"
    else
        echo "no real-data manifest at $manifest: skipped"
    fi
done
