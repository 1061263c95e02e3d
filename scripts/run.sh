#!/usr/bin/env bash
# Set everything up (idempotent), show the engine on the Dask docs' graph, then open
# JupyterLab on the tutorials in notebooks/, opened on the first one, with kernel_ext (and its
# lab extension) installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/graph_demo.py
args=(--notebook-dir=notebooks --ServerApp.ip=127.0.0.1 --no-browser
      --LabApp.default_url=/lab/tree/01-getting-started.ipynb)
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"
