#!/usr/bin/env bash
# Set everything up (idempotent), then run every check: ruff, the lab extension's unit tests
# (vitest) and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check kernel_ext tests benchmarks
npm test
exec .venv/bin/pytest -q "$@"
