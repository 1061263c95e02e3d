#!/usr/bin/env bash
# Reproduce what Binder's repo2docker does with binder/, in a clean virtualenv, then run
# every tutorial in it. Binder itself cannot be reached from CI, so this is how CI proves
# the Binder files work:
#   1. the Debian packages of apt.txt;
#   2. a new virtualenv of the Python that runtime.txt names;
#   3. pip install -r requirements.txt (nothing from this repository's .venv);
#   4. postBuild, run from the repository root with that virtualenv first on PATH;
#   5. every notebooks/*.ipynb executed top to bottom in a fresh kernel of that virtualenv,
#      and `jupyter labextension list` showing the extensions the tutorials need.
# Usage: bash binder/check.sh   (KERNEL_EXT_BINDER_ENV=dir keeps the virtualenv there)
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD

mapfile -t packages < <(grep -v '^\s*#' binder/apt.txt | grep -v '^\s*$')
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

runtime=$(tr -d '[:space:]' < binder/runtime.txt)   # python-3.11
python="python${runtime#python-}"
command -v "$python" >/dev/null || { echo "check.sh: $python (runtime.txt) not found" >&2; exit 1; }

env_dir=${KERNEL_EXT_BINDER_ENV:-$(mktemp -d /tmp/kernel_ext-binder.XXXXXX)}
rm -rf "$env_dir"
"$python" -m venv "$env_dir"
export PATH="$env_dir/bin:$PATH"
export JUPYTER_CONFIG_DIR="$env_dir/jupyter-config"   # nothing from the user's Jupyter
export JUPYTER_DATA_DIR="$env_dir/jupyter-data"
python -m pip install -q --upgrade pip
python -m pip install -q -r binder/requirements.txt
(cd "$here" && bash binder/postBuild)

# The tutorials, as a Binder user runs them: in their folder, in kernels of this environment.
work=$(mktemp -d /tmp/kernel_ext-binder-notebooks.XXXXXX)
cp -r notebooks "$work/"
rm -rf "$work/notebooks/data"
python - "$work/notebooks" <<'PY'
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

folder = Path(sys.argv[1])
for path in sorted(folder.glob("*.ipynb")):
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # the Binder environment's own Python
    started = time.monotonic()
    NotebookClient(nb, km=km, timeout=300, store_widget_state=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    print(f"binder check: {path.name} ran in {time.monotonic() - started:.1f} s")
PY
rm -rf "$work"
jupyter labextension list 2>&1 | grep -E "kernel-ext v\S+ .*enabled.*OK" >/dev/null
python -c "import kernel_ext, sys; print('binder check: kernel_ext', kernel_ext.__version__, 'on', sys.version.split()[0])"
[ -n "${KERNEL_EXT_BINDER_ENV:-}" ] || rm -rf "$env_dir"
echo "binder check: OK"
