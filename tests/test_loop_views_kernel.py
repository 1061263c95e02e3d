"""A loop's iterations in the live views of its cell, in a real kernel (nbclient).

The cell users write most is a loop over slow calls. Its views must show the
iterations: progress ``40/40`` for the loop's row, a task-stream bar per
iteration on the lane of the worker that ran it, the loop's graph node with
its count, and a summary counting iterations. Read from the notebook's saved
widget state, as a reopened notebook shows it.
"""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from loop_cells import LOOP, fetch_setup
from nbclient import NotebookClient

SETUP = fetch_setup(0.1)

COMPREHENSION = """\
%%parallel --workers 3 --stream --graph
squares = [fetch(i) ** 2 for i in range(12)]
print(len(squares))
"""

PROCESS_LOOP = """\
%%parallel --processes --workers 2 --stream --graph
found = {}
for i in range(10):
    found[i] = fetch(i)
print(len(found))
"""


def run_notebook(tmp_path, *cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    NotebookClient(nb, km=km, timeout=180, store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


CASES = {
    "loop": (LOOP, "line 2: for i in range(40):", 40, "780"),
    "comprehension": (COMPREHENSION, "line 1: squares = [fetch(i) ** 2 for i", 12, "12"),
    "processes": (PROCESS_LOOP, "line 2: for i in range(10):", 10, "10"),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request, tmp_path_factory) -> tuple[nbformat.NotebookNode, str, int, str]:
    """Each cell in a notebook of its own: all of its widgets are then the cell's."""
    cell, label, n, printed = CASES[request.param]
    nb = run_notebook(tmp_path_factory.mktemp(request.param), SETUP, cell)
    return nb, label, n, printed


def cell_states(nb: nbformat.NotebookNode) -> list[dict]:
    """Every widget state the notebook saved (a summary replaces the bars' box at the end,
    so the bars are not reachable from the output any more, but are saved)."""
    return list(nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
                .values())


def texts(states: list[dict]) -> str:
    return "\n".join(str(s["state"].get("value", "")) for s in states
                     if s["model_name"] == "HTMLModel")


def stream_rows(states: list[dict]) -> list[dict]:
    """The task stream's bars as saved (its render bundle's data source)."""
    bundles = [s["state"]["render_bundle"] for s in states if s["model_name"] == "BokehModel"]
    assert len(bundles) == 1
    bundle = bundles[0] if isinstance(bundles[0], dict) else json.loads(bundles[0])
    doc = next(iter(bundle["docs_json"].values()))
    for model in _models(doc):
        if model.get("name") == "ColumnDataSource":
            data = model["attributes"]["data"]
            entries = data.get("entries", data)
            columns = dict(entries) if isinstance(entries, list) else entries
            keys = _values(columns["key"])
            lanes = _values(columns["worker"])
            return [{"key": k, "worker": w} for k, w in zip(keys, lanes, strict=True)]
    raise AssertionError("no data source in the stream's bundle")


def _values(column):
    return column if isinstance(column, list) else column.get("array", column)


def _models(node):
    if isinstance(node, dict):
        if node.get("type") == "object" and "name" in node:
            yield node
        for value in node.values():
            yield from _models(value)
    elif isinstance(node, list):
        for value in node:
            yield from _models(value)


def outputs_text(nb: nbformat.NotebookNode, index: int, name: str) -> str:
    return "".join(o.get("text", "") for o in nb.cells[index].outputs
                   if o.get("output_type") == "stream" and o.get("name") == name)


def test_iterations_show_in_progress_stream_and_graph(case) -> None:
    nb, label, n, printed = case
    states = cell_states(nb)
    assert outputs_text(nb, 1, "stdout").strip() == printed
    assert outputs_text(nb, 1, "stderr") == ""  # dot never writes to the cell
    bars = sorted((s["state"]["max"], s["state"]["value"]) for s in states
                  if s["model_name"] == "IntProgressModel")
    assert (n, n) in bars, bars  # the loop's row counts its iterations
    others = len(bars) - 2  # the overall bar and the loop's row aside, one per statement
    assert bars[-1] == (n + others, n + others), bars  # the overall bar counts them too
    shown = texts(states)
    assert f"{n}/{n}" in shown
    assert f"{n + others} tasks · " in shown, shown  # the summary counts iterations
    summary = next(o["data"]["text/plain"] for o in nb.cells[1].outputs
                   if "application/vnd.jupyter.widget-view+json" in o.get("data", {}))
    assert f"{n + others} tasks · " in summary
    rows = stream_rows(states)
    iterations = [r for r in rows if r["key"].startswith("iteration ")]
    assert sorted(int(r["key"].split()[1].rstrip(":")) for r in iterations) == list(range(n))
    assert len({r["worker"] for r in iterations}) >= 2  # on the lanes of several workers
    assert not [r for r in rows if r["key"] == label or r["key"].startswith(label[:8])], rows
    svg = next(s["state"]["value"] for s in states
               if s["model_name"] == "HTMLModel" and "<svg" in s["state"].get("value", ""))
    assert "could not be laid out" not in shown
    assert f">{n}/{n}<" in svg  # the loop's node shows its iterations' count
    assert label in html_unescape(svg)


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)
