"""What every tutorial notebook must hold, for the ``test_tutorial_*`` modules.

Each module executes its notebook once, fresh (a copy in a temporary folder,
a new kernel), then checks the generic rules here and its own content.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
MAX_SECONDS = 60  # each tutorial runs within a minute on a 2-core machine (issue 14)
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# A result the text states (a speed-up, a time taken) must come from an output instead.
# (What the workload is, "each call sleeps 0.5 s", is not a result: that may be text.)
FIGURE_IN_TEXT = re.compile(
    r"\b\d+(\.\d+)?\s?(x|×)(?!\w)"  # 3x, 2.9 ×
    r"|\b(took|takes|finished in|ran in|runs in)\s+(about\s+|only\s+|~)?\d")


def execute_fresh(name: str, tmp_path: Path) -> tuple[nbformat.NotebookNode, float]:
    """Run ``notebooks/<name>`` from a copy of the folder, in a new kernel; notebook, seconds."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from run_notebooks import execute
    finally:
        sys.path.pop(0)
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns("*.ipynb", "data"))
    shutil.copy(NOTEBOOKS / name, folder / name)
    return execute(folder / name, timeout=MAX_SECONDS * 2)


def saved(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def text_of(cell: nbformat.NotebookNode) -> str:
    """What a reader sees of a code cell's outputs, as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(parts)


def outputs_of(nb: nbformat.NotebookNode, first_line: str) -> list[str]:
    """The outputs (as text) of the code cells whose source starts with ``first_line``."""
    return [text_of(c) for c in nb.cells
            if c.cell_type == "code" and c.source.startswith(first_line)]


def the_cell(nb: nbformat.NotebookNode, first_line: str) -> nbformat.NotebookNode:
    """The one code cell whose source is ``first_line``, or else starts with it."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    exact = [c for c in code if c.source == first_line]
    (cell,) = exact or [c for c in code if c.source.startswith(first_line)]
    return cell


def outputs_text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(text_of(c) for c in nb.cells if c.cell_type == "code")


def unexpected_errors(nb: nbformat.NotebookNode) -> list[str]:
    """Errors in cells not tagged ``raises-exception`` (those fail on purpose)."""
    return [f"{o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code"
            and "raises-exception" not in c.metadata.get("tags", [])
            for o in c.get("outputs", []) if o.output_type == "error"]


def check_tutorial(name: str, executed: nbformat.NotebookNode, seconds: float) -> None:
    """The rules every tutorial keeps, on a fresh run and on the saved file."""
    assert seconds < MAX_SECONDS, f"{name} took {seconds:.1f} s (limit {MAX_SECONDS} s)"
    assert unexpected_errors(executed) == [], unexpected_errors(executed)
    nb = saved(name)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.search(r"\bminutes?\b", first.source), (
        "the first cell says what the notebook teaches and how long it takes")
    for cell in nb.cells[1:]:
        if cell.cell_type == "markdown":
            found = FIGURE_IN_TEXT.search(cell.source)
            assert found is None, (f"{name}: the text states {found.group(0)!r}: "
                                   "print figures from the notebook's own outputs instead")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), (
        f"{name} is saved without its outputs: scripts/run_notebooks.py notebooks/{name}")
    assert unexpected_errors(nb) == [], unexpected_errors(nb)
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    models = [s["model_name"] for s in states.values()]
    assert "IntProgressModel" in models, f"{name}: no progress bars in the saved widget state"
    assert "BokehModel" in models, f"{name}: no task stream in the saved widget state"
    assert any("<svg" in s["state"].get("value", "") for s in states.values()
               if s["model_name"] == "HTMLModel"), f"{name}: no graph in the saved widget state"
