"""The views' final state survives a page reload mid-run, and saving and reopening the notebook.

Real ``jupyter lab`` (JupyterLab 4.6) in Debian's Chromium, the demo notebook of
``test_browser_lab.py`` (12 tasks, 2 workers) with one change: the two ``combine``
tasks also wait for an event, ``hold``, that a last cell sets. So the job stops mid-run
at a known point (10 of 12 done, ``total`` running) for as long as the reload takes,
however slow the machine. ipywidgets' "save widget state" is on
(``@jupyter-widgets/jupyterlab-manager:plugin`` ``saveState``).

1. Reload while the job runs: at 10/12 the notebook is saved (``docmanager:save``;
   without real-time collaboration JupyterLab reopens a notebook from its file, so
   outputs never saved are not on the reloaded page, whatever the kernel holds, and
   JupyterLab asks "leave the page?" first) and the page is reloaded. The reopened
   notebook reconnects to the same kernel (same kernel id; the job's variables are
   still there); the views come back from the kernel's widget state showing 10/12;
   then the reloaded page sets ``hold`` and the views update live to their end: the
   progress summary line, every graph node in the finished colour, and the task
   stream with one BokehJS data row per task. The stream's rows reach the reloaded
   page only because the view rebuilds the widget's ``render_bundle`` when the job
   ends (jupyter_bokeh's streamed rows are one-off messages, not widget state: mid-run
   the reloaded page's stream lacks the rows streamed before the reload); the live
   page re-renders the rebuilt bundle, no second reload is needed. The plot's ranges
   (as BokehJS draws it) must span every row and lane: the kernel once took the
   reloaded page's auto ranges, computed on the later rows only, into that bundle.
2. Save and reopen: the finished notebook is saved, its kernel shut down, the page
   closed; a new page opens the saved ``.ipynb`` (with a fresh kernel that knows none
   of the job's widgets) and shows the final views from the saved widget state alone.
   The saved file's ``metadata.widgets`` holds the progress models' final counts and
   the stream's final rows.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import nbformat
import pytest
from browser_support import (
    FINISHED,
    GATE_CELL,
    PROGRESS,
    RUNNING,
    STATUS_CELL,
    WAITING,
    JupyterServer,
    artifact,
    cell_output_text,
    demo_cells,
    graph_fills,
    jupyter_server,
    open_notebook,
    progress_state,
    run_cells,
    run_command,
    stream_keys,
    wait_kernel_idle,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NB = "reload.ipynb"
TASKS = 12
SUMMARY = re.compile(r"✔ reload job: 12 tasks · \d+\.\d s · 2 workers")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BAD_CONSOLE = ("Cannot read properties of undefined", "pageerror", "Failed to load model",
               "Error displaying widget", "Could not create a view")
HOLD_CELL = STATUS_CELL + 1
# The overall bar and one per group (6 loads, 4 cleans, 2 combines), as (value, max).
FINAL_BARS = [(12, 12), (6, 6), (4, 4), (2, 2)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    root = tmp_path_factory.mktemp("lab-reload")
    # ipywidgets saves widget state into the notebook on save only with this setting on.
    settings = root / ".settings" / "@jupyter-widgets" / "jupyterlab-manager"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    with jupyter_server("lab", root) as server:
        yield server


_KERNEL_ID = """() => {
    const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
    return ctx && ctx.session && ctx.session.kernel ? ctx.session.kernel.id : null;
}"""


def held_demo_cells() -> list[str]:
    """The demo notebook, its ``combine`` tasks held until a last cell sets ``hold``."""
    cells = demo_cells(seconds=0.4, workers=2, name="reload job")
    graph = cells[1]
    cells[1] = graph.replace("def combine(*parts):\n",
                             "hold = threading.Event()\n\ndef combine(*parts):\n    hold.wait()\n")
    assert cells[1] != graph
    cells.append("hold.set()")
    assert len(cells) == HOLD_CELL + 1
    return cells


def done_count(view: View | None) -> int | None:
    """``n`` of the overall bar's ``n/12 · ...`` text, or None (no bars: the summary, or none)."""
    match = re.search(r"(\d+)/12 ·", view.progress["text"]) if view and view.progress else None
    return int(match.group(1)) if match else None


def wait_final(page: Any, timeout_ms: int = 30_000) -> None:
    """Until the summary line, all nodes finished and the stream holds a row per task."""
    page.locator(".kernel-ext-progress", has_text="tasks ·").wait_for(timeout=timeout_ms)
    page.wait_for_function(
        """([finished, tasks]) => {
            const nodes = [...document.querySelectorAll('.kernel-ext-views svg g.node')];
            return nodes.length === tasks && nodes.every(
                g => g.querySelector('polygon, ellipse, path').getAttribute('fill') === finished);
        }""", arg=[FINISHED, TASKS], timeout=10_000)
    # The stream's rebuilt render bundle; a shortfall is asserted (and shown) by the tests.
    with contextlib.suppress(Exception):  # playwright's TimeoutError
        page.wait_for_function(
            """(tasks) => { const B = window.Bokeh; if (!B || !B.documents) return false;
                return B.documents.some(d => [...d.all_models].some(m => {
                    if (m.type !== 'ColumnDataSource') return false;
                    const k = m.data instanceof Map ? m.data.get('key') : m.data['key'];
                    return k !== undefined && k.length === tasks; })); }""",
            arg=TASKS, timeout=10_000)


_STREAM_EXTENT = """() => {
    // The task stream's plot as BokehJS draws it: its rows' extent and its ranges.
    const B = window.Bokeh;
    if (!B || !B.documents) return null;
    let best = null;
    for (const doc of B.documents) {
        for (const m of doc.all_models) {
            if (m.type !== 'ColumnDataSource') continue;
            const col = (c) => Array.from(m.data instanceof Map ? m.data.get(c) : m.data[c]);
            const key = m.data instanceof Map ? m.data.get('key') : m.data['key'];
            if (key === undefined || (best && key.length <= best.rows)) continue;
            const plot = [...doc.all_models].find(p => p.type === 'Figure' || p.type === 'Plot');
            if (!plot) continue;
            const lanes = col('lane');
            best = {rows: key.length, left: Math.min(...col('left')),
                    right: Math.max(...col('right')), lane_min: Math.min(...lanes),
                    lane_max: Math.max(...lanes), x: [plot.x_range.start, plot.x_range.end],
                    y: [plot.y_range.start, plot.y_range.end]};
        }
    }
    return best;
}"""


@dataclass
class View:
    """What one page showed of the job's views at one moment."""

    progress: dict[str, Any] | None
    fills: list[str]
    stream: list[str] | None
    extent: dict[str, Any] | None = None  # the stream's rows' extent and plot ranges

    @classmethod
    def read(cls, page: Any) -> View:
        return cls(progress_state(page), graph_fills(page), stream_keys(page),
                   page.evaluate(_STREAM_EXTENT))


def assert_stream_shows_every_row(extent: dict[str, Any] | None) -> None:
    """The plot's ranges span all its rows: every bar and every worker lane is in view."""
    assert extent and extent["rows"] == TASKS, extent
    x_lo, x_hi = sorted(extent["x"])
    y_lo, y_hi = sorted(extent["y"])  # the lanes' axis is flipped
    assert x_lo <= extent["left"] and extent["right"] <= x_hi, extent
    assert y_lo < extent["lane_min"] and extent["lane_max"] < y_hi, extent


@dataclass
class Observed:
    mid_run: View | None = None
    kernel_before: str | None = None
    kernel_after: str | None = None
    reloaded: View | None = None  # the views as soon as they were back, job still held
    after_reload: View | None = None  # final, after the reloaded page released the job
    status_output: str = ""
    saved: Any = None  # the saved notebook (nbformat)
    reopened: View | None = None
    reopened_kernel: str | None = None
    console: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def observed(lab: JupyterServer, browser: Any) -> Observed:
    """Run, reload mid-run, finish, save, shut the kernel down, reopen; read the views."""
    out = Observed()
    write_notebook(lab.root_dir / NB, held_demo_cells())
    page, console = open_notebook(browser, lab, NB)
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?" if ever asked
    name = "lab_reload"
    try:
        run_cells(page, range(GATE_CELL))  # load, graph, submit + show: the job waits at the gate
        page.locator(".kernel-ext-progress").locator(PROGRESS).first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views svg g.node").first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views canvas").first.wait_for(timeout=30_000)
        run_cells(page, [GATE_CELL])
        page.wait_for_function(
            "() => { const m = (document.querySelector('.kernel-ext-progress')?.textContent"
            " ?? '').match(/(\\d+)\\/12 ·/); return m && +m[1] === 10; }",
            timeout=20_000, polling=50)
        page.wait_for_function(  # the graph catches up with the progress view
            "(running) => [...document.querySelectorAll('.kernel-ext-views svg g.node')].some("
            "g => g.querySelector('polygon, ellipse, path').getAttribute('fill') === running)",
            arg=RUNNING, timeout=10_000)
        out.mid_run = View.read(page)
        out.kernel_before = page.evaluate(_KERNEL_ID)
        page.screenshot(path=artifact(name, "1-running"), full_page=True)

        run_command(page, "docmanager:save")  # the outputs must be in the file to come back
        page.reload(wait_until="domcontentloaded")
        page.wait_for_function(
            "(name) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            " return !!(w && w.context && w.context.path === name && w.content); }",
            arg=NB, timeout=45_000)
        wait_kernel_idle(page)
        page.locator(".kernel-ext-progress").locator(PROGRESS).first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views svg g.node").first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views canvas").first.wait_for(timeout=30_000)
        out.reloaded = View.read(page)
        out.kernel_after = page.evaluate(_KERNEL_ID)
        page.screenshot(path=artifact(name, "2-reloaded"), full_page=True)

        run_cells(page, [HOLD_CELL])  # release the combines from the reloaded page
        wait_final(page)
        out.after_reload = View.read(page)
        page.screenshot(path=artifact(name, "3-final-after-reload"), full_page=True)
        run_cells(page, [STATUS_CELL])  # the job's variables: the same kernel
        out.status_output = cell_output_text(page, STATUS_CELL)

        run_command(page, "docmanager:save")
        out.saved = nbformat.read(str(lab.root_dir / NB), as_version=4)
        shut_down_kernel(lab, out.kernel_after)
        out.console = list(console)
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()

    page, console = open_notebook(browser, lab, NB)
    page.on("dialog", lambda dialog: dialog.accept())
    name = "lab_reopen"
    try:
        page.locator(".kernel-ext-progress").first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views svg g.node").first.wait_for(timeout=30_000)
        wait_final(page)
        out.reopened = View.read(page)
        out.reopened_kernel = page.evaluate(_KERNEL_ID)
        page.screenshot(path=artifact(name, "1-reopened"), full_page=True)
        out.console += console
        return out
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()


def shut_down_kernel(server: JupyterServer, kernel_id: str | None) -> None:
    """Shut the notebook's kernel down through the server's REST API and wait until it is gone."""
    assert kernel_id
    url = f"{server.base_url}/api/kernels/{kernel_id}?token={server.token}"
    request = urllib.request.Request(url, method="DELETE")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{server.base_url}/api/kernels?token={server.token}",
                                    timeout=10) as response:
            if kernel_id not in {k["id"] for k in json.load(response)}:
                return
        time.sleep(0.2)
    raise AssertionError(f"kernel {kernel_id} still running")


def bad_console(console: list[str]) -> list[str]:
    return [line for line in console if any(bad in line for bad in BAD_CONSOLE)]


# --------------------------------------------------------------------------- 1. reload


def test_page_reload_mid_run_reconnects_to_the_same_running_kernel(observed: Observed) -> None:
    assert done_count(observed.mid_run) == 10, observed.mid_run  # some, not all, done
    assert observed.kernel_before and observed.kernel_after == observed.kernel_before
    assert "status=finished finished=12/12" in observed.status_output, observed.status_output


def test_views_come_back_after_the_reload_while_the_job_still_runs(observed: Observed) -> None:
    # The reloaded page shows the views mid-run: the job is held at 10/12.
    view = observed.reloaded
    assert done_count(view) == 10, view
    assert view and sorted(view.fills) == sorted([FINISHED] * 10 + [RUNNING, WAITING]), view


def test_progress_is_final_after_the_reload(observed: Observed) -> None:
    view = observed.after_reload
    assert view and view.progress
    assert SUMMARY.fullmatch(view.progress["text"].strip()), view.progress
    assert view.progress["bars"] == []


def test_graph_is_final_after_the_reload(observed: Observed) -> None:
    assert observed.after_reload and observed.after_reload.fills == [FINISHED] * TASKS


def test_task_stream_is_final_after_the_reload(observed: Observed) -> None:
    keys = observed.after_reload.stream if observed.after_reload else None
    assert keys is not None, "no BokehJS ColumnDataSource on the reloaded page"
    assert len(keys) == TASKS and len(set(keys)) == TASKS, keys
    assert_stream_shows_every_row(observed.after_reload.extent)


# --------------------------------------------------------------------------- 2. save, reopen


def saved_widget_states(nb: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(model name, state)`` of every widget in the notebook's saved widget state."""
    widgets = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    return [(m["model_name"], m["state"]) for m in widgets.get("state", {}).values()]


def bundle_stream_keys(render_bundle: str) -> list[str] | None:
    """The ``key`` column of the ColumnDataSource in a saved jupyter_bokeh render bundle."""
    found: list[list[str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") == "ColumnDataSource":
                data = node.get("attributes", {}).get("data", {})
                columns = dict(data.get("entries", [])) if data.get("type") == "map" else data
                if "key" in columns:
                    found.append(list(columns["key"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(render_bundle))
    return max(found, key=len) if found else None


def test_saved_notebook_holds_the_final_progress_state(observed: Observed) -> None:
    states = saved_widget_states(observed.saved)
    assert states, f"no widget state saved: {observed.saved.metadata}"
    bars = sorted(((s.get("value", 0), s.get("max", 100)) for name, s in states
                   if name == "IntProgressModel"), reverse=True)
    assert bars == FINAL_BARS, bars
    assert all(s.get("bar_style") == "success" for name, s in states
               if name == "IntProgressModel")
    texts = [re.sub(r"<[^>]+>", "", s.get("value", "")) for name, s in states
             if name == "HTMLModel"]
    assert any(SUMMARY.fullmatch(t) for t in texts), texts
    assert {"6/6", "4/4", "2/2"} <= set(texts), texts  # the groups' final counts


def test_saved_notebook_holds_the_final_stream_rows(observed: Observed) -> None:
    bokeh = [s for name, s in saved_widget_states(observed.saved) if name == "BokehModel"]
    assert len(bokeh) == 1, bokeh
    keys = bundle_stream_keys(bokeh[0]["render_bundle"])
    assert keys is not None and len(keys) == TASKS and len(set(keys)) == TASKS, keys


def test_reopened_notebook_shows_the_final_views_without_the_job(observed: Observed) -> None:
    view = observed.reopened
    assert view and view.progress
    assert observed.reopened_kernel != observed.kernel_after  # a fresh kernel: no job in it
    assert SUMMARY.fullmatch(view.progress["text"].strip()), view.progress
    assert view.progress["bars"] == []
    assert view.fills == [FINISHED] * TASKS
    assert view.stream is not None, "no BokehJS ColumnDataSource on the reopened page"
    assert len(view.stream) == TASKS and len(set(view.stream)) == TASKS, view.stream
    assert_stream_shows_every_row(view.extent)


def test_no_widget_errors_in_the_console(observed: Observed) -> None:
    assert not bad_console(observed.console), bad_console(observed.console)
