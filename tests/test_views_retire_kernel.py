"""Old finished views become static pictures and their widgets close: a long session
keeps a bounded number of widgets, and the saved notebook still shows every cell's views.

A real kernel run headless by nbclient, with ``Parallel.live_views = 2``: the views
of all but the last two view cells are replaced (by display id) with static HTML.
"""

from __future__ import annotations

import re
import sys

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

SETUP = """\
%load_ext kernel_ext
%config Parallel.live_views = 2
%config Parallel.views_delay = 0
import time
import ipywidgets
def nap(i):
    time.sleep(0.05)
    if i == 'boom':
        raise ValueError('no nap for boom')
    return i
"""
VIEW_CELL = "%%parallel --stream --graph\nr{n} = [nap(x) for x in range(8)]\nt{n} = sum(r{n})"
FAILING_CELL = "%%parallel --stream --graph\nf = [nap(x) for x in [1, 2, 'boom', 3]]"
HELD = """\
import kernel_ext
from IPython.display import display
held_job = kernel_ext.submit({'a': (nap, 1)}, 'a')
held = kernel_ext.views.show_views(held_job)
display(held)
held_job.wait()
"""
COUNT = "from ipywidgets.widgets.widget import _instances\nprint('widgets', len(_instances))"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> nbformat.NotebookNode:
    cells = [SETUP, VIEW_CELL.format(n=0), FAILING_CELL, VIEW_CELL.format(n=1),
             VIEW_CELL.format(n=2), COUNT]
    cells += [VIEW_CELL.format(n=n) for n in range(3, 9)] + [COUNT]
    cells.insert(1, HELD)
    cells.append("display(held)")  # retired by now: shown again, it is the picture
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # this virtualenv, where kernel_ext is installed
    client = NotebookClient(nb, km=km, timeout=120, store_widget_state=True,
                            allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute()
    return nb


def views_output(cell: nbformat.NotebookNode) -> dict:
    shown = [out for out in cell.outputs if out.output_type == "display_data"
             and out.data.get("text/plain", "").startswith("%%parallel cell")]
    assert len(shown) == 1, cell.outputs
    return shown[0].data


def test_widgets_stay_bounded_over_many_view_cells(executed) -> None:
    counts = [int(re.search(r"widgets (\d+)", "".join(o.get("text", "") for o in cell.outputs))[1])
              for cell in executed.cells if cell.source == COUNT]
    # Five view cells, then six more: the same widgets live (the last two cells' views).
    assert counts[0] == counts[1], counts
    assert counts[1] < 80, counts  # a view cell makes about 30; two are live


def test_retired_views_show_the_final_picture_without_widgets(executed) -> None:
    data = views_output(executed.cells[2])
    assert WIDGET_VIEW not in data
    page = data["text/html"]
    assert "kernel-ext-retired" in page
    assert "✔" in page and "%%parallel cell" in page and "9 tasks" in page
    stream, graph = page.count("task stream</text>"), page.count('class="graph"')
    assert stream == 1 and graph == 1, page[:2000]
    # One bar per iteration in the stream picture, each with its tooltip.
    assert len(re.findall(r"<title>iteration \d+: \d+ \(", page)) == 8
    assert data["text/plain"].startswith("%%parallel cell: 9 tasks")


def test_a_retired_failed_view_keeps_its_error(executed) -> None:
    page = views_output(executed.cells[3])["text/html"]
    assert "✘" in page and "no nap for boom" in page


def test_the_last_views_stay_live_widgets(executed) -> None:
    view_cells = [cell for cell in executed.cells if "%%parallel" in cell.source]
    for cell in view_cells[-2:]:
        assert WIDGET_VIEW in views_output(cell)
    for cell in view_cells[:-2]:
        assert WIDGET_VIEW not in views_output(cell)


def test_views_shown_again_after_retiring_show_the_picture(executed) -> None:
    first, again = executed.cells[1].outputs, executed.cells[-1].outputs
    assert len(again) == 1 and WIDGET_VIEW not in again[0].data, again
    assert "kernel-ext-retired" in again[0].data["text/html"]
    assert again[0].data == first[0].data  # the same picture where it was first shown
