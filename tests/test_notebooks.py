"""The tutorial notebooks run, top to bottom, in a real kernel, and show what they say they show."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(parts)


def test_the_parallel_intro_notebook_runs_and_shows_its_results(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / "parallel_intro.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = [_text(c) for c in nb.cells if c.cell_type == "code"]
    assert any("rows: 5000 5000 6000" in t for t in texts), texts
    assert any("[499.5, 999.5, 1499.5, 1999.5]" in t for t in texts), texts
    assert any(t.strip().endswith("45000") for t in texts), texts  # the loop with live views
    assert any("waits for #0 because of a" in t for t in texts), texts
    errors = [t for t in texts if "Error" in t]
    assert errors == ["ZeroDivisionError: division by zero"], errors  # the tagged cell only
    assert texts[-1].strip() == "True False"  # first stayed bound, third was rolled back
