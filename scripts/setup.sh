#!/usr/bin/env bash
# Install labelwise and everything it needs into .venv (idempotent; fast when nothing changed).
# The first run builds llama.cpp from source for this CPU (7-13 min on 2 cores; scripts/build_llama.sh
# keeps the wheel under a key of the CPU's flags, so another machine never reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# The review page's browser tests drive Debian's chromium (never `playwright install`: no downloads here).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing chromium for the review page's browser tests (about a minute)..." >&2
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
    apt-get install -y -q chromium >/dev/null 2>&1; } || echo "could not install chromium: browser tests will fail" >&2
fi
# The PostgreSQL store's tests start a throw-away cluster of Debian's server (tests/pg.py).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 && \
   command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing PostgreSQL for the store's tests (about a minute)..." >&2
  apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
    apt-get install -y -q postgresql >/dev/null 2>&1; } || echo "could not install PostgreSQL: its tests will fail" >&2
fi
STAMP=.venv/.labelwise-setup
want="$( (cat pyproject.toml scripts/setup.sh scripts/build_llama.sh; grep -m1 '^flags' /proc/cpuinfo) 2>/dev/null \
  | sha256sum | cut -d' ' -f1)"  # a new CPU (another machine) installs again
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x .venv/bin/labelwise ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip wheel setuptools
# torch first, pinned: this exact version is the CPU build; a range would pull CUDA packages.
.venv/bin/python -m pip install -q "torch==2.13.0"
bash scripts/build_llama.sh  # before the extras, so they find it installed and build nothing
echo "installing labelwise and its extras..." >&2
.venv/bin/python -m pip install -q -e ".[all,dev]"
# The interchange SDKs (Label Studio's pins an older numpy than ours) get their own venv, used only
# by the tests that check exports with them (tests/review/test_label_studio.py, test_argilla.py).
if ! .venv-ls/bin/python -c "import label_studio_sdk, argilla, requests" >/dev/null 2>&1; then
  echo "installing label-studio-sdk and argilla into .venv-ls (for the export tests)..." >&2
  [ -x .venv-ls/bin/python ] || "$PY" -m venv .venv-ls
  .venv-ls/bin/python -m pip install -q "label-studio-sdk==2.1.2" "argilla==2.8.0" requests
fi
echo "$want" > "$STAMP"
