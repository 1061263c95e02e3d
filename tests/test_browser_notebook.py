"""The live views in Jupyter Notebook 7 (``jupyter notebook``, ``/notebooks/<nb>.ipynb``).

Same demo notebook and helpers as ``test_browser_lab.py``: the progress widget and
the graph must render in Notebook 7's page and reach their final state.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import (
    FINISHED,
    GATE_CELL,
    PROGRESS,
    RUNNING,
    STATUS_CELL,
    JupyterServer,
    artifact,
    cell_output_text,
    demo_cells,
    graph_fills,
    jupyter_server,
    open_notebook,
    progress_state,
    run_cells,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
# Notebook 7.6.5 itself throws this on a plain notebook (one cell ``1 + 1``, no kernel_ext).
NOTEBOOK7_OWN_ERRORS = {"pageerror: Cannot read properties of undefined (reading 'schema')"}


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with jupyter_server("notebook", tmp_path_factory.mktemp("nb7")) as server:
        yield server


def test_progress_and_graph_render_and_finish_in_notebook7(
        notebook7: JupyterServer, browser: Any) -> None:
    nb = "nb7.ipynb"
    write_notebook(notebook7.root_dir / nb,
                   demo_cells(seconds=0.3, workers=2, name="nb7 job", stream=False))
    page, console = open_notebook(browser, notebook7, nb)
    name = "nb7_views"
    try:
        assert "/notebooks/" in page.url
        run_cells(page, range(GATE_CELL))
        page.locator(".kernel-ext-progress").locator(PROGRESS).first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views svg g.node").first.wait_for(timeout=30_000)
        before = progress_state(page)
        page.screenshot(path=artifact(name, "1-before"), full_page=True)
        assert len(before["bars"]) == 4 and all(w == 0 for w in before["bars"]), before
        assert RUNNING in graph_fills(page)  # two loads wait at the gate

        run_cells(page, [GATE_CELL, STATUS_CELL])  # the status cell waits for the job
        page.locator(".kernel-ext-progress", has_text="tasks ·").wait_for(timeout=30_000)
        page.wait_for_function(
            "(n) => [...document.querySelectorAll('.kernel-ext-views svg g.node')].every("
            "g => g.querySelector('polygon, ellipse, path').getAttribute('fill') === n)",
            arg=FINISHED, timeout=10_000)
        page.screenshot(path=artifact(name, "2-final"), full_page=True)
        summary = progress_state(page)["text"].strip()
        assert re.fullmatch(r"✔ nb7 job: 12 tasks · \d+\.\d s · 2 workers", summary), summary
        assert graph_fills(page) == [FINISHED] * 12
        assert "status=finished finished=12/12" in cell_output_text(page, STATUS_CELL)
        errors = [line for line in console
                  if ("pageerror" in line or "Cannot read properties of undefined" in line)
                  and line not in NOTEBOOK7_OWN_ERRORS]
        assert not errors, errors
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()
