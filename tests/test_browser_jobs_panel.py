"""The lab extension in a real JupyterLab (4.6) in Debian's Chromium: panel, status bar,
cancel, notifications, go to cell, cell badges, page reload and kernel restart.

Two notebooks in one page. ``alpha.ipynb`` starts background jobs; ``beta.ipynb``
is the tab the user looks at. The notification threshold is set to 1 s in the
user settings (default 10 s) so a short failing job notifies.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from browser_support import (
    JupyterServer,
    artifact,
    chromium,
    jupyter_server,
    open_notebook,
    reset_dir,
    run_cell,
    wait_kernel_idle,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ALPHA, BETA = "alpha.ipynb", "beta.ipynb"
PANEL = "#kernel-ext-jobs-panel"
ALPHA_CELLS = [
    "%load_ext kernel_ext\nimport time\ndef fetch(i):\n    time.sleep(0.5)\n    return i\n",
    "%%parallel --bg --workers 2\nresults = []\nfor i in range(80):\n"
    "    results.append(fetch(i))\ntotal = sum(results)\n",
    "%%parallel --bg\ntime.sleep(1.5)\nraise ValueError('bad row 7')\n",
    "%%parallel --bg --workers 2\nlate = [fetch(i) for i in range(40)]\n",
]
BETA_CELLS = ["x = 1\n", "x + 1\n"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = reset_dir(tmp_path_factory.mktemp("jobs_panel"))
    write_notebook(root / ALPHA, ALPHA_CELLS)
    write_notebook(root / BETA, BETA_CELLS)
    settings = root / ".settings" / "kernel-ext"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"notifyThreshold": 1}))
    with jupyter_server("lab", root) as running:
        yield running


def activate(page: Any, path: str) -> None:
    """Bring the notebook ``path`` to the front (opening it if needed) and wait for it."""
    page.evaluate("async (p) => {"
                  " await window.jupyterapp.commands.execute('docmanager:open', {path: p}); }",
                  path)
    page.wait_for_function(
        "(p) => { const w = window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.context && w.context.path === p && w.content); }",
        arg=path, timeout=30_000)
    wait_kernel_idle(page)


def open_panel(page: Any) -> None:
    page.evaluate("() => { window.jupyterapp.shell.activateById('kernel-ext-jobs-panel'); }")
    page.locator(PANEL).wait_for(state="visible", timeout=15_000)


def row(page: Any, job_id: str) -> Any:
    return page.locator(f"{PANEL} .kx-job-row[data-job-id='{job_id}']")


def wait_state(page: Any, job_id: str, state: str, timeout: float = 30.0) -> None:
    page.wait_for_function(
        "([sel, state]) => { const r = document.querySelector(sel);"
        " return !!r && r.dataset.state === state; }",
        arg=[f"{PANEL} .kx-job-row[data-job-id='{job_id}']", state], timeout=timeout * 1000)


def kernel_eval(page: Any, path: str, expression: str) -> str:
    """``expression`` evaluated in the kernel of ``path`` (a silent request), as text."""
    return str(page.evaluate("""async ([path, expr]) => {
        const app = window.jupyterapp;
        const w = app.shell.widgets('main').find(w => w.context && w.context.path === path);
        const kernel = w.sessionContext.session.kernel;
        const reply = await kernel.requestExecute(
            {code: '', silent: true, store_history: false,
             user_expressions: {v: expr}}).done;
        return reply.content.user_expressions.v.data['text/plain'];
    }""", [path, expression]))


def test_jobs_panel_in_real_jupyterlab(server: JupyterServer) -> None:
    with chromium() as browser:
        page, console = open_notebook(browser, server, ALPHA)
        run_cell(page, 0)
        run_cell(page, 1)  # job 1: 80 x 0.5 s on 2 workers, about 20 s

        # The cell that started the job shows a live badge in its prompt area.
        badge = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".kx-cell-badge")
        badge.wait_for(timeout=15_000)

        activate(page, BETA)  # the user works in the other notebook
        run_cell(page, 0)
        # The status bar item says a job runs; clicking it opens the panel.
        page.evaluate("() => { window.jupyterapp.shell.collapseRight(); }")
        page.locator(PANEL).wait_for(state="hidden", timeout=10_000)
        page.wait_for_function(
            "() => /1 job · \\d+%/.test(document.querySelector('.kx-status').textContent)",
            timeout=15_000)
        page.locator(".kx-status").click()
        page.locator(PANEL).wait_for(state="visible", timeout=10_000)
        wait_state(page, "bg-1", "running")
        job1 = row(page, "bg-1")
        assert "job 1" in job1.inner_text() and ALPHA in job1.inner_text()
        page.wait_for_function(
            "(sel) => /^[1-9]\\d*\\/\\d+/.test(document.querySelector(sel).textContent)",
            arg=f"{PANEL} .kx-job-row[data-job-id='bg-1'] .kx-job-progress", timeout=20_000)
        status = page.locator(".kx-status")
        page.screenshot(path=str(artifact("jobs_panel", "running")))

        # Cancel from the panel, from the other notebook's tab.
        job1.locator(".kx-job-cancel").click()
        wait_state(page, "bg-1", "cancelled", timeout=20)
        assert kernel_eval(page, ALPHA, "__import__('kernel_ext').jobs[1].state") == "'cancelled'"
        assert not re.search(r"\d+ jobs? ·", status.inner_text())
        page.wait_for_function(  # the badge leaves the cell once its job has ended
            "(p) => window.jupyterapp.shell.widgets('main').find(w => w.context"
            " && w.context.path === p).node.querySelectorAll('.kx-cell-badge').length === 0",
            arg=ALPHA, timeout=10_000)

        # A failing job notifies; the notification's action goes to its cell.
        activate(page, ALPHA)
        run_cell(page, 2)
        activate(page, BETA)
        toast = page.locator(".Toastify__toast", has_text="bad row 7")
        toast.wait_for(timeout=30_000)
        assert "failed" in toast.inner_text()
        page.screenshot(path=str(artifact("jobs_panel", "notification")))
        toast.get_by_role("button", name="Go to cell").click()
        page.wait_for_function(
            "(p) => { const w = window.jupyterapp.shell.currentWidget;"
            " return w && w.context && w.context.path === p && w.content.activeCellIndex === 2; }",
            arg=ALPHA, timeout=15_000)
        wait_state(page, "bg-2", "failed")
        assert "ValueError: bad row 7" in row(page, "bg-2").inner_text()

        # Go to cell opens the notebook again when its tab was closed (its kernel runs on).
        page.evaluate("""async (p) => {
            const w = window.jupyterapp.shell.widgets('main')
                .find(w => w.context && w.context.path === p);
            await w.context.save();
            w.dispose();
        }""", ALPHA)
        activate(page, BETA)
        row(page, "bg-2").locator(".kx-job-goto").click()
        page.wait_for_function(
            "(p) => { const w = window.jupyterapp.shell.currentWidget;"
            " return w && w.context && w.context.path === p && w.content.activeCellIndex === 2; }",
            arg=ALPHA, timeout=30_000)
        wait_kernel_idle(page)

        # Reload the page mid-job: the panel asks the kernel again and shows the job.
        run_cell(page, 3)
        wait_state(page, "bg-3", "running")
        page.evaluate(
            "async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")
        page.reload(wait_until="domcontentloaded")
        page.wait_for_function("() => !!(window.jupyterapp && window.jupyterapp.shell"
                               " && window.jupyterapp.shell.currentWidget)", timeout=45_000)
        open_panel(page)
        wait_state(page, "bg-3", "running", timeout=30)
        assert row(page, "bg-1").count() == 1  # finished jobs come back too
        page.screenshot(path=str(artifact("jobs_panel", "after-reload")))

        # Restart alpha's kernel: its jobs leave the panel and the status bar.
        page.evaluate("""async (p) => {
            const w = window.jupyterapp.shell.widgets('main')
                .find(w => w.context && w.context.path === p);
            await w.sessionContext.session.kernel.restart();
        }""", ALPHA)
        page.locator(f"{PANEL} .kx-job-row").first.wait_for(state="detached", timeout=20_000)
        assert page.locator(f"{PANEL} .kx-jobs-empty").is_visible()
        assert page.locator(".kx-status").inner_text().strip() == ""
        page.screenshot(path=str(artifact("jobs_panel", "after-restart")))

        log = server.log_tail(100000)
        assert "No such comm target" not in log  # beta's kernel never loaded kernel_ext
        assert "kernel_ext: refused" not in log
        bad = [line for line in console if line.startswith(("error", "pageerror"))
               and "kernel-ext" in line]
        assert not bad, bad
