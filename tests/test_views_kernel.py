"""The views in a real kernel, run headless by nbclient: saved widget state holds the end."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

CELL = """\
import time
import kernel_ext

def inc(x):
    time.sleep(0.02)
    return x + 1

def total(*xs):
    return sum(xs)

dsk = {('x', i): (inc, i) for i in range(40)}
dsk['t'] = (total, *[('x', i) for i in range(40)])
job = kernel_ext.submit(dsk, ['t'], num_workers=2)
job.show(stream=True, graph=True); job.wait()
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(CELL))
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # this virtualenv, where kernel_ext is installed
    client = NotebookClient(
        nb, km=km, timeout=120, store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}},
    )
    client.execute()
    return nb


def widget_states(nb: nbformat.NotebookNode) -> dict[str, dict]:
    return nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]


def test_saved_widget_state_holds_final_progress_counts(executed) -> None:
    states = widget_states(executed)
    bars = [s["state"] for s in states.values() if s["model_name"] == "IntProgressModel"]
    by_max = sorted((b["max"], b["value"], b["bar_style"]) for b in bars)
    # The overall bar (41), the inc group (40) and the total group (1), all complete.
    assert by_max == [(1, 1, "success"), (40, 40, "success"), (41, 41, "success")]
    texts = [s["state"].get("value", "") for s in states.values()
             if s["model_name"] == "HTMLModel"]
    assert any("41 tasks · " in t and "2 workers" in t for t in texts), texts


def test_saved_state_has_the_final_stream_and_graph(executed) -> None:
    states = widget_states(executed)
    bokeh = [s["state"] for s in states.values() if s["model_name"] == "BokehModel"]
    assert len(bokeh) == 1
    bundle = bokeh[0]["render_bundle"]
    text = bundle if isinstance(bundle, str) else json.dumps(bundle)
    # The final data, not the empty initial source. (submit starts the job before
    # show subscribes, so early runs may be missing; the final 'total' task is not.)
    assert "total" in text
    svgs = [s["state"]["value"] for s in states.values()
            if s["model_name"] == "HTMLModel" and "<svg" in s["state"].get("value", "")]
    assert len(svgs) == 1 and svgs[0].count('fill="#93c47d"') == 41


def test_output_has_the_widget_and_a_final_plain_text_summary(executed) -> None:
    outputs = executed.cells[0].outputs
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views, outputs
    plain = views[-1]["data"]["text/plain"]
    assert "41 tasks · " in plain, plain
    # BokehJS was loaded inline, not from a CDN.
    js = json.dumps([o.get("data", {}) for o in outputs])
    assert "cdn.bokeh.org" not in js
