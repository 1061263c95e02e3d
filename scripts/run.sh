#!/usr/bin/env bash
# Set everything up (idempotent), show the engine on the Dask docs' graph, then open
# JupyterLab on the tutorial notebook with kernel_ext installed in its kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/graph_demo.py
args=(--notebook-dir=notebooks --ServerApp.ip=127.0.0.1 --no-browser)
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"
