#!/usr/bin/env bash
# Create .venv and install inharmony with everything its tests need. Safe to run again.
#   --with-browser  also install Debian's chromium for the browser test (root + apt; skipped cleanly otherwise)
# torch and torchvision are pinned as a pair: PyPI's torchvision does not import beside a CPU-only torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check \
    "torch==2.14.1" "torchvision==0.29.1" -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import torch, torchvision, inharmony; print('inharmony', inharmony.__version__, '| torch', torch.__version__, '| torchvision', torchvision.__version__)"
if [ "${1:-}" = "--with-browser" ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
            || echo "chromium could not be installed: the browser test will be skipped"
    else
        echo "not root or no apt-get: chromium not installed, the browser test will be skipped"
    fi
fi
