"""Every tutorial, opened in a real JupyterLab in Debian's Chromium and run cell by cell:
no page errors, and the live views drawn (progress bars, the task stream's canvas, the
graph's SVG). Screenshots go to ``test-artifacts/tutorial-<name>-end.png``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    JupyterServer,
    artifact,
    jupyter_server,
    open_notebook,
    stream_keys,
    wait_kernel_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TUTORIALS = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
BAD_CONSOLE = ("Cannot read properties of undefined", "pageerror", "Failed to load model",
               "Error displaying widget", "Could not create a view", "kernel-ext:")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("tutorials")
    for name in TUTORIALS:
        shutil.copy(NOTEBOOKS / name, root / name)
    with jupyter_server("lab", root) as server:
        yield server


def test_the_tutorials_are_numbered_in_reading_order() -> None:
    numbers = [int(name[:2]) for name in TUTORIALS]
    assert numbers[0] == 1 and numbers == sorted(set(numbers)), TUTORIALS


@pytest.mark.parametrize("name", TUTORIALS)
def test_a_tutorial_runs_in_jupyterlab_and_draws_its_views(
        lab: JupyterServer, browser: Any, name: str) -> None:
    page, console = open_notebook(browser, lab, name)
    try:
        page.evaluate("""async () => {
            const app = window.jupyterapp;
            const panel = app.shell.currentWidget;
            await panel.sessionContext.ready;
            // Start from a clean slate: the saved outputs are not what this run draws.
            await app.commands.execute('notebook:clear-all-cell-outputs');
        }""")
        count = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.length")
        for index in range(count):
            outcome = page.evaluate("""async (i) => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                const cell = nb.widgets[i];
                if (cell.model.type !== 'code') return 'skipped';
                nb.activeCellIndex = i;
                nb.mode = 'command';
                const ok = await window.jupyterapp.commands.execute('notebook:run-cell');
                const tags = cell.model.getMetadata('tags') || [];
                return ok === false && !tags.includes('raises-exception') ? 'failed' : 'ok';
            }""", index)
            if outcome == "failed":
                shown = page.locator(".jp-Notebook .jp-Cell").nth(index).inner_text()
                raise AssertionError(f"{name}: cell {index} failed in JupyterLab:\n{shown}")
        wait_kernel_idle(page, timeout=120)
        # JupyterLab draws only the cells in view: bring each view into view in turn.
        views = page.locator(".kernel-ext-views")
        for i in range(views.count()):
            views.nth(i).scroll_into_view_if_needed()
            page.wait_for_timeout(300)
        drawn = page.evaluate("""() => ({
            progress: document.querySelectorAll('.kernel-ext-progress').length,
            graphs: document.querySelectorAll('.kernel-ext-views svg g.node').length,
        })""")
        drawn["canvases"] = page.locator(".kernel-ext-views canvas").count()  # in shadow roots
        page.screenshot(path=str(artifact(f"tutorial-{name[:2]}", "end")), full_page=True)
        assert drawn["progress"] > 0, (name, drawn)
        assert drawn["canvases"] > 0 and stream_keys(page), (name, drawn)  # BokehJS drew it
        assert drawn["graphs"] > 0, (name, drawn)
        bad = [line for line in console if any(b in line for b in BAD_CONSOLE)
               and not line.startswith(("debug:", "log:", "info:"))]
        assert not bad, bad
    finally:
        page.close()
