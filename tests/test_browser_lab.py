"""The live views in a real JupyterLab, in Debian's Chromium (headless).

A real ``jupyter lab`` server runs a notebook that submits a 12-task job and shows
its progress, task stream and graph; the job waits at a gate until the views are on
the page, so the test sees them before, during and after the run. Everything is
asserted from the DOM (and BokehJS's own data); screenshots of each stage go to
``test-artifacts/``. Chromium missing fails the tests: run ``scripts/setup.sh``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from browser_support import (
    CANCELLED,
    FINISHED,
    GATE_CELL,
    LOAD,
    PROGRESS,
    QUEUED,
    RUNNING,
    STATUS_CELL,
    WAITING,
    JupyterServer,
    artifact,
    canvas_colors,
    cell_output_text,
    demo_cells,
    graph_fills,
    jupyter_server,
    open_notebook,
    progress_state,
    run_cells,
    stream_keys,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

BAD_CONSOLE = ("Cannot read properties of undefined", "pageerror", "Failed to load model",
               "Error displaying widget", "Could not create a view")
STREAM_BLUE = "#1f77b4"  # the task stream's first group colour (kernel_ext.views.stream.PALETTE)


def blend(color: str, alpha: float) -> str:
    """``color`` drawn with ``alpha`` over white, as the task stream's bars appear."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(alpha * c + (1 - alpha) * 255):02x}" for c in rgb)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with jupyter_server("lab", tmp_path_factory.mktemp("lab")) as server:
        yield server


def overall(state: dict[str, Any]) -> tuple[int, int]:
    """``(done, total)`` from the overall bar's ``n/m · ...`` text."""
    match = re.search(r"(\d+)/(\d+)", state["texts"][1] if len(state["texts"]) > 1 else "")
    assert match, f"no n/m text in the progress view: {state}"
    return int(match.group(1)), int(match.group(2))


def bad_console(console: list[str]) -> list[str]:
    return [line for line in console if any(bad in line for bad in BAD_CONSOLE)]


@dataclass
class Observed:
    """What the browser showed of one run of the demo notebook, stage by stage."""

    before: dict[str, Any]
    before_fills: list[str]
    running: dict[str, Any]
    running_fills: list[str]
    final: dict[str, Any]
    final_fills: list[str]
    stream_keys: list[str] | None
    stream_pixels: int
    canvases: int
    status_output: str
    console: list[str]


@pytest.fixture(scope="module")
def lab_run(lab: JupyterServer, browser: Any) -> Observed:
    """Run the demo notebook once in JupyterLab; screenshot and read the views at each stage."""
    write_notebook(lab.root_dir / "views.ipynb", demo_cells(seconds=0.4, workers=2))
    page, console = open_notebook(browser, lab, "views.ipynb")
    name = "lab_views"
    try:
        run_cells(page, range(GATE_CELL))  # load, graph, submit + show: the job waits at the gate
        page.locator(".kernel-ext-progress").locator(PROGRESS).first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views svg g.node").first.wait_for(timeout=30_000)
        page.locator(".kernel-ext-views canvas").first.wait_for(timeout=30_000)
        before, before_fills = progress_state(page), graph_fills(page)
        page.screenshot(path=artifact(name, "1-before"), full_page=True)

        run_cells(page, [GATE_CELL])  # open the gate; catch the views mid-run
        page.wait_for_function(
            """([running, finished]) => {
                const text = document.querySelector('.kernel-ext-progress').textContent;
                const m = text.match(/(\\d+)\\/12 ·/);
                const fills = [...document.querySelectorAll('.kernel-ext-views svg g.node')]
                    .map(g => g.querySelector('polygon, ellipse, path').getAttribute('fill'));
                // Progress and graph are separate widgets whose updates reach the page
                // one after the other: wait until the graph shows the same moment.
                return m && +m[1] >= 2 && +m[1] <= 9 && fills.includes(running)
                    && fills.includes(finished);
            }""", arg=[RUNNING, FINISHED], timeout=20_000, polling=50)
        running, running_fills = progress_state(page), graph_fills(page)
        page.screenshot(path=artifact(name, "2-running"), full_page=True)

        # The job ends while the kernel is idle (the cell that showed it ended long ago).
        page.locator(".kernel-ext-progress", has_text="tasks ·").wait_for(timeout=30_000)
        page.wait_for_function(
            "(n) => [...document.querySelectorAll('.kernel-ext-views svg g.node')].every("
            "g => g.querySelector('polygon, ellipse, path').getAttribute('fill') === n)",
            arg=FINISHED, timeout=10_000)
        page.wait_for_timeout(500)  # the stream's final redraw follows the last refresh
        final, final_fills = progress_state(page), graph_fills(page)
        page.screenshot(path=artifact(name, "3-final"), full_page=True)
        page.locator(".kernel-ext-views canvas").first.screenshot(
            path=artifact(name, "3-final-stream"))
        blue = blend(STREAM_BLUE, 0.9)
        observed = Observed(
            before, before_fills, running, running_fills, final, final_fills,
            stream_keys=stream_keys(page), stream_pixels=canvas_colors(page, [blue])[blue],
            canvases=page.locator(".kernel-ext-views canvas").count(),
            status_output="", console=console)
        run_cells(page, [STATUS_CELL])
        observed.status_output = cell_output_text(page, STATUS_CELL)
        return observed
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()


def test_views_are_on_the_page_before_any_task_ends(lab_run: Observed) -> None:
    assert overall(lab_run.before) == (0, 12)
    bars = lab_run.before["bars"]
    assert len(bars) == 4, lab_run.before  # overall + one per group: load, clean, combine
    assert all(width == 0 for width in bars), lab_run.before
    # two loads hold both workers at the gate, four more are queued
    assert sorted(lab_run.before_fills) == sorted([RUNNING] * 2 + [QUEUED] * 4 + [WAITING] * 6)
    assert lab_run.canvases >= 1


def test_progress_bars_move_while_the_job_runs(lab_run: Observed) -> None:
    done, total = overall(lab_run.running)
    assert total == 12 and 2 <= done <= 9, lab_run.running
    assert 0 < lab_run.running["bars"][0] < 100, lab_run.running  # the overall bar's width
    assert lab_run.running["bars"] != lab_run.before["bars"]
    assert "running" in lab_run.running["text"], lab_run.running


def test_graph_nodes_change_colour_from_running_to_final(lab_run: Observed) -> None:
    assert RUNNING in lab_run.running_fills and FINISHED in lab_run.running_fills
    assert lab_run.running_fills != lab_run.before_fills
    assert lab_run.final_fills == [FINISHED] * 12


def test_final_summary_line_replaces_the_bars(lab_run: Observed) -> None:
    summary = lab_run.final["text"].strip()
    assert re.fullmatch(r"✔ demo job: 12 tasks · \d+\.\d s · 2 workers", summary), summary
    assert lab_run.final["bars"] == []  # no failed groups left below the summary
    assert "status=finished finished=12/12" in lab_run.status_output, lab_run.status_output


def test_task_stream_renders_without_errors(lab_run: Observed) -> None:
    assert lab_run.stream_keys is not None, "no BokehJS ColumnDataSource on the page"
    assert lab_run.stream_pixels > 200, "the task stream's bars are not painted"
    assert not bad_console(lab_run.console), bad_console(lab_run.console)


def test_task_stream_shows_each_task_run_once(lab_run: Observed) -> None:
    keys = lab_run.stream_keys or []
    assert len(set(keys)) == 12, keys
    assert len(keys) == 12, (
        f"{len(keys)} rows for 12 task runs (duplicates: "
        f"{sorted({k for k in keys if keys.count(k) > 1})})")


def test_cancel_button_stops_a_running_job(lab: JupyterServer, browser: Any) -> None:
    cells = demo_cells(seconds=1.0, workers=2, name="slow job", stream=False, graph=False)
    write_notebook(lab.root_dir / "cancel.ipynb", cells)
    page, console = open_notebook(browser, lab, "cancel.ipynb")
    name = "lab_cancel"
    try:
        run_cells(page, range(GATE_CELL + 1))  # ... submit + show, open the gate
        page.wait_for_function(
            "() => /(?<!\\d)[1-5]\\/12 ·/.test("
            "document.querySelector('.kernel-ext-progress')?.textContent ?? '')",
            timeout=30_000, polling=50)
        page.screenshot(path=artifact(name, "1-running"), full_page=True)

        page.locator(".kernel-ext-progress button", has_text="Cancel").click()
        summary = page.locator(".kernel-ext-progress", has_text="cancelled")
        summary.wait_for(timeout=10_000)
        page.screenshot(path=artifact(name, "2-cancelled"), full_page=True)
        text = progress_state(page)["text"].strip()
        assert re.fullmatch(r"✘ slow job: 12 tasks · \d+\.\d s · 2 workers · \d+ cancelled",
                            text), text
        assert int(re.search(r"(\d+) cancelled", text).group(1)) >= 6, text

        run_cells(page, [STATUS_CELL])  # the kernel agrees
        output = cell_output_text(page, STATUS_CELL)
        match = re.search(r"status=(\w+) finished=(\d+)/12", output)
        assert match, output
        assert match.group(1) == "cancelled" and int(match.group(2)) <= 6, output
        assert not bad_console(console), bad_console(console)
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()


NAPS = 8
FOREGROUND_CELLS = [
    LOAD,
    "def nap(x, d):\n    time.sleep(d)\n    return x",
    "%%parallel --workers 2 --progress\n"
    + "\n".join(f"r{i} = nap({i}, 1.0)" for i in range(NAPS)) + "\nprint('all done')",
    "print(sorted(k for k in globals() if k[:1] == 'r' and k[1:].isdigit()))",
]


def start_cell(page: Any, index: int) -> None:
    """Start cell ``index`` without waiting for it to end."""
    page.evaluate("""(i) => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = i;
        nb.mode = 'command';
        void window.jupyterapp.commands.execute('notebook:run-cell');
    }""", index)


def test_cancel_button_stops_a_running_parallel_cell(lab: JupyterServer, browser: Any) -> None:
    """A foreground %%parallel cell's Cancel works while the cell still runs."""
    write_notebook(lab.root_dir / "foreground_cancel.ipynb", FOREGROUND_CELLS)
    page, console = open_notebook(browser, lab, "foreground_cancel.ipynb")
    name = "lab_foreground_cancel"
    try:
        run_cells(page, [0, 1])
        start_cell(page, 2)
        page.wait_for_function(
            f"() => /(?<!\\d)[1-4]\\/{NAPS + 1} ·/.test("  # the naps and the print
            "document.querySelector('.kernel-ext-progress')?.textContent ?? '')",
            timeout=30_000, polling=50)
        page.screenshot(path=artifact(name, "1-running"), full_page=True)

        clicked_at = time.monotonic()
        page.locator(".kernel-ext-progress button", has_text="Cancel").click()
        page.locator(".jp-Notebook .jp-Cell").nth(2).locator(
            ".jp-OutputArea", has_text="JobCancelledError").wait_for(timeout=10_000)
        ended_after = time.monotonic() - clicked_at
        page.locator(".kernel-ext-progress", has_text="cancelled").wait_for(timeout=10_000)
        page.screenshot(path=artifact(name, "2-cancelled"), full_page=True)
        # Far less than the ~3 s the rest of the cell would have taken.
        assert ended_after < 2.0, f"the cell ended {ended_after:.1f}s after the click"
        output = cell_output_text(page, 2)
        assert "all done" not in output and "cancelled at line" in output, output

        time.sleep(1.2)  # the statements that were running end, then put their names back
        run_cells(page, [3])
        bound = re.search(r"\[(.*)\]", cell_output_text(page, 3)).group(1)
        names = [n.strip(" '") for n in bound.split(",") if n.strip()]
        assert names == [f"r{i}" for i in range(len(names))] and len(names) < NAPS, names
        assert not bad_console(console), bad_console(console)
    finally:
        page.screenshot(path=artifact(name, "last"), full_page=True)
        page.close()


def test_state_colours_the_browser_tests_read_are_the_views_colours() -> None:
    from kernel_ext.events import TaskState
    from kernel_ext.views.dot import STATE_COLORS

    assert [STATE_COLORS[s] for s in (TaskState.WAITING, TaskState.RUNNING, TaskState.FINISHED,
                                      TaskState.CANCELLED)] == [WAITING, RUNNING, FINISHED,
                                                                CANCELLED]
