#!/usr/bin/env bash
# Install labelwise and everything it needs into .venv (idempotent; fast when nothing changed).
# The first run builds llama.cpp from source (~13 min on 2 cores); pip caches the wheel after.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
STAMP=.venv/.labelwise-setup
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x .venv/bin/labelwise ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip wheel setuptools
# torch first, pinned: this exact version is the CPU build; a range would pull CUDA packages.
.venv/bin/python -m pip install -q "torch==2.13.0"
echo "installing labelwise (the first time this builds llama-cpp-python: ~13 minutes)..." >&2
.venv/bin/python -m pip install -q -e ".[all,dev]"
echo "$want" > "$STAMP"
