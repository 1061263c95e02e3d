#!/usr/bin/env bash
# Set everything up (idempotent), then run every check: ruff, the lab extension's unit tests
# (vitest), the Binder files (binder/check.sh: a clean virtualenv built as repo2docker builds
# it, every tutorial run in it) and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check kernel_ext tests benchmarks
npm test
bash binder/check.sh
exec .venv/bin/pytest -q "$@"
