#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine with Python 3.11 and Node 20:
# Debian packages (Graphviz's `dot`, Chromium for browser tests), a virtualenv in .venv,
# kernel_ext installed editable with its test extras (the install runs `npm install` and
# builds the JupyterLab extension in labextension/, through hatch-jupyter-builder), and
# that extension linked into the virtualenv's JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
if [ "${KERNEL_EXT_BROWSER:-1}" = "1" ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup.sh: Node.js 20 and npm are needed to build the JupyterLab extension" >&2
  exit 1
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The install builds the extension only when no build is there: rebuild (incrementally, a few
# seconds) so the build always matches labextension/src after a pull.
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund -q
PATH="$PWD/.venv/bin:$PATH" npm run build >/dev/null
# Serve the extension from the source tree (a symlink to kernel_ext/_lab_static), so
# `npm run build` is all a change needs; replaces the copy the editable install made.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/jupyter-builder develop --overwrite . >/dev/null
