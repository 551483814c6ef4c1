#!/usr/bin/env bash
# Create .venv and install inharmony with everything its tests need. Safe to run again.
# torch and torchvision are pinned as a pair: PyPI's torchvision does not import beside a CPU-only torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check \
    "torch==2.14.1" "torchvision==0.29.1" -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import torch, torchvision, inharmony; print('inharmony', inharmony.__version__, '| torch', torch.__version__, '| torchvision', torchvision.__version__)"
