#!/usr/bin/env bash
# How sessions 20-25 judged a training state of the default-model lineage (issue 21): the state with the mirror
# pass, averaged with the shipped default in weight space (alpha 0.5), then used as the mask under the default's own
# verdict (ensemble shares 1 : 0, --mask-member 1), and checked against the default by scripts/candidate.sh.
#   bash scripts/judge_state.sh RUN TAG [STATE]
# RUN: the run folder (its config.yaml); STATE: the weights to judge (default RUN/last.pt). Writes
# $RUNS/TAG.safetensors (the state), $RUNS/TAG_w.safetensors (averaged), $RUNS/split_TAG.safetensors (the judged
# model) and candidate.sh's output under OUT (default eval/split_TAG). SHARED=1 (default) computes the encoder once
# for both members: right only where the state's encoder is the default's (trained with the encoder frozen);
# SHARED=0 for a learning encoder. DEFAULT: the default's weights; SEEN as in candidate.sh (default 0 here).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bash scripts/judge_state.sh RUN TAG [STATE]" >&2; exit 2; }
RUN=$1
TAG=$2
STATE=${3:-$RUN/last.pt}
PYTHON=${PYTHON:-.venv/bin/python}
RUNS=${RUNS:-runs}
DEFAULT=${DEFAULT:-src/inharmony/weights/default.safetensors}
OUT=${OUT:-eval/split_$TAG}
CANDIDATE=${CANDIDATE:-$(dirname "$0")/candidate.sh}
[ -f "$STATE" ] || { echo "judge_state.sh: no state $STATE" >&2; exit 2; }
shared=()
if [ "${SHARED:-1}" != 0 ]; then shared=(--shared-encoder); fi
ship=("$PYTHON" "$(dirname "$0")/ship_model.py" --run "$RUN" --flip-test)
mkdir -p "$RUNS"
"${ship[@]}" --model "$STATE" --out "$RUNS/$TAG.safetensors"
"${ship[@]}" --model "$RUNS/$TAG.safetensors" --start "$DEFAULT" --alpha 0.5 --out "$RUNS/${TAG}_w.safetensors"
"${ship[@]}" --model "$RUNS/${TAG}_w.safetensors" --ensemble "$DEFAULT" --weights 1 0 --mask-member 1 \
    "${shared[@]}" --out "$RUNS/split_$TAG.safetensors"
SEEN=${SEEN:-0} bash "$CANDIDATE" "$RUNS/split_$TAG.safetensors" "$OUT"
