"""Execute the tutorial notebooks top to bottom in fresh kernels; save them with their outputs.

    .venv/bin/python scripts/run_notebooks.py                  # every notebooks/*.ipynb, saved
    .venv/bin/python scripts/run_notebooks.py notebooks/02-*.ipynb
    .venv/bin/python scripts/run_notebooks.py --check          # execute, save nothing

Each notebook runs in a new kernel of this interpreter, in the notebooks folder
(so files it writes land beside it, as on Binder), with widget state stored:
the saved file shows the live views' final state (progress bars, the task
stream, the graph) wherever it is opened. Cells tagged ``raises-exception``
may fail (they show an error on purpose); any other error stops with the
notebook's name and cell. Prints each notebook's wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT = 300  # seconds; the tests hold each notebook to much less


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> tuple[nbformat.NotebookNode, float]:
    """Run ``path`` in a fresh kernel of this interpreter; the executed notebook and seconds."""
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # this virtualenv, where kernel_ext is installed
    client = NotebookClient(nb, km=km, timeout=timeout, store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    try:
        client.execute()
    finally:
        if km.has_kernel:  # nbclient leaves a kernel it was handed running
            km.shutdown_kernel(now=True)
    return nb, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    parser.add_argument("--check", action="store_true", help="execute only; save nothing")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        nb, seconds = execute(path.resolve())
        if not args.check:
            nbformat.write(nb, path)
        print(f"{path.name}: {seconds:.1f} s" + ("" if args.check else ", saved"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
