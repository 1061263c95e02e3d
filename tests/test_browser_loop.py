"""A loop over slow calls in a real JupyterLab (headless Debian Chromium): its views
show the iterations while it runs and after.

The cell users write most, as a new user writes it: 40 calls of 0.4 s on 4
workers with the task stream and the graph. While it runs, the loop's progress
row counts iterations (``n/40``) and no more than four run; the graph lays out
with no error and nothing reaches stderr; at the end the stream holds a bar per
iteration (read from BokehJS's own data source) and the summary counts 43
tasks. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import (
    FINISHED,
    PROGRESS,
    JupyterServer,
    artifact,
    cell_output_text,
    graph_fills,
    jupyter_server,
    open_notebook,
    progress_state,
    run_cells,
    stream_keys,
    write_notebook,
)
from loop_cells import LOOP, fetch_setup

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SETUP = fetch_setup(0.4)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with jupyter_server("lab", tmp_path_factory.mktemp("lab-loop")) as server:
        yield server


def test_a_loop_over_slow_calls_shows_its_iterations(lab: JupyterServer, browser: Any) -> None:
    write_notebook(lab.root_dir / "loop.ipynb", [SETUP, LOOP])
    page, console = open_notebook(browser, lab, "loop.ipynb")
    name = "lab_loop"
    try:
        run_cells(page, [0])
        page.evaluate("""() => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = 1;
            nb.mode = 'command';
            void window.jupyterapp.commands.execute('notebook:run-cell');
        }""")
        # Mid-run: the loop's row counts iterations, at most 4 running.
        page.wait_for_function(
            """() => {
                const root = document.querySelector('.kernel-ext-progress');
                const m = root && root.textContent.match(/(\\d+)\\/40 · (\\d+) running/);
                return m && +m[1] >= 4 && +m[1] <= 32;
            }""", timeout=30_000, polling=50)
        running = progress_state(page)
        page.screenshot(path=artifact(name, "1-running"), full_page=True)
        counts = [(int(a), int(b)) for a, b in re.findall(r"(\d+)/40 · (\d+) running",
                                                           running["text"])]
        assert counts and all(r <= 4 for _, r in counts), running["text"]
        assert re.search(r"\d+/43", running["text"]), running["text"]  # overall: 40 + 3

        page.locator(".kernel-ext-progress", has_text="tasks ·").wait_for(timeout=60_000)
        page.wait_for_function(
            "(n) => [...document.querySelectorAll('.kernel-ext-views svg g.node')].every("
            "g => g.querySelector('polygon, ellipse, path').getAttribute('fill') === n)",
            arg=FINISHED, timeout=15_000)
        page.wait_for_timeout(700)  # the stream's final redraw follows the last refresh
        page.screenshot(path=artifact(name, "2-final"), full_page=True)
        page.locator(".kernel-ext-views canvas").first.screenshot(
            path=artifact(name, "2-final-stream"))
        final = progress_state(page)
        assert "43 tasks · " in final["text"] and "4 workers" in final["text"], final
        output = cell_output_text(page, 1)
        assert "780" in output
        assert "Error" not in output and "could not be laid out" not in output, output
        stderr = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').count()
        assert stderr == 0
        keys = stream_keys(page)
        assert keys is not None, "no BokehJS data source on the page"
        iterations = sorted(int(k.split()[1].rstrip(":")) for k in keys
                            if k.startswith("iteration "))
        assert iterations == list(range(40)), keys
        assert not [k for k in keys if k.startswith("line 2:")], keys  # no bar over the loop
        svg_text = page.locator(".kernel-ext-views svg").first.text_content() or ""
        assert "40/40" in svg_text and "for i in range(40)" in svg_text, svg_text
        assert len(graph_fills(page)) == 4  # one node per statement, the loop's with its count
        assert not [line for line in console if "Error displaying widget" in line
                    or "pageerror" in line], console
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()


def test_old_loop_views_become_static_pictures_in_place(lab: JupyterServer,
                                                         browser: Any) -> None:
    """With ``Parallel.live_views = 1``, a loop cell's views turn into a static picture
    (the stream as SVG with a bar per iteration, the graph, the summary) once a later
    view cell has finished; the page shows no widget error, and the last cell stays live."""
    cells = [fetch_setup(0.05) + "%config Parallel.live_views = 1\n",
             LOOP.replace("range(40)", "range(12)"), LOOP.replace("range(40)", "range(6)")]
    write_notebook(lab.root_dir / "retire.ipynb", cells)
    page, console = open_notebook(browser, lab, "retire.ipynb")
    name = "lab_retire"
    try:
        run_cells(page, [0, 1])
        first = page.locator(".jp-Notebook .jp-Cell").nth(1)
        first.locator(".kernel-ext-views canvas").first.wait_for(timeout=30_000)  # live
        run_cells(page, [2])
        first.locator(".kernel-ext-retired").wait_for(timeout=15_000)
        page.wait_for_timeout(500)
        page.screenshot(path=artifact(name, "retired"), full_page=True)
        assert first.locator("canvas").count() == 0
        assert first.locator(PROGRESS).count() == 0
        tips = first.locator(".kernel-ext-retired svg rect title").all_text_contents()
        assert sorted(int(t.split()[1].rstrip(":")) for t in tips
                      if t.startswith("iteration ")) == list(range(12)), tips
        text = first.locator(".kernel-ext-retired").inner_text()
        assert "15 tasks" in text and "12/12" in text, text  # summary; the loop's node
        assert "66" in cell_output_text(page, 1)  # its printed total stays
        last = page.locator(".jp-Notebook .jp-Cell").nth(2)
        assert last.locator(".kernel-ext-views canvas").count() >= 1
        assert last.locator(".kernel-ext-retired").count() == 0
        assert not [line for line in console if "Error displaying widget" in line
                    or "pageerror" in line], console
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()
