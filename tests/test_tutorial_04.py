"""Tutorial 04, graphs by hand and with Dask: runs fresh, and shows what its text says it shows."""

from __future__ import annotations

import re

import pytest
from tutorials_support import check_tutorial, execute_fresh, text_of, the_cell

NAME = "04-graphs-and-dask.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    return execute_fresh(NAME, tmp_path_factory.mktemp("t04"))


def output(nb, first_line: str) -> str:
    return text_of(the_cell(nb, first_line))


def svgs(nb, first_line: str) -> list[str]:
    cell = the_cell(nb, first_line)
    return [o.data["image/svg+xml"] for o in cell.outputs
            if o.output_type in ("display_data", "execute_result") and "image/svg+xml" in o.data]


def test_it_runs_within_a_minute_and_is_saved_with_its_views(executed) -> None:
    nb, seconds = executed
    check_tutorial(NAME, nb, seconds)


def test_the_graph_dict_gives_dasks_results_with_the_loads_at_once(executed) -> None:
    nb, _ = executed
    timed = output(nb, "import dask.threaded")
    assert "result: stored 63" in timed

    def seconds(label: str) -> float:
        return float(re.search(rf"{re.escape(label)}\s+([\d.]+) s", timed).group(1))

    # three loads of 0.4 s on three workers, against the same three in a row
    assert seconds("kernel_ext.get") < 0.75 < 1.1 < seconds("dask.get (in a row)")
    assert output(nb, "many = ").strip() == "('DATA OF MYFILE.A.DATA', (63, 'stored 63'))"
    errors = output(nb, "looping = ")
    assert "UnknownKeyError - requested key 'report' is not in the graph" in errors
    assert "CycleError - the task graph has a cycle: 'store' -> " in errors
    assert output(nb, "on_processes, ").startswith("stored 63 on 2 worker processes")


def test_the_job_and_the_drawings(executed) -> None:
    nb, _ = executed
    job = output(nb, "big = {}")
    assert "stored 254 | finished | {'finished': 26}" in job
    assert re.search(r"26 tasks · [\d.]+ s · 4 workers", job)
    (drawn,) = svgs(nb, "kernel_ext.visualize(dsk")
    assert "analyze" in drawn and "load&#45;1" in drawn  # dot escapes the hyphen
    assert svgs(nb, "kernel_ext.visualize(job)") and svgs(nb, "kernel_ext.visualize(y.mean())")


def test_dask_collections_equal_dasks_own_results(executed) -> None:
    nb, _ = executed
    assert "equal to Dask's threaded scheduler" in output(nb, "import numpy as np")
    cell = output(nb, "%%parallel --progress --stream --graph --workers 4")
    assert re.search(r"%%parallel cell: \d+ tasks · [\d.]+ s · 4 workers", cell)
    checked = output(nb, "with dask.config.set(scheduler='threads')")
    assert "apples" in checked and re.search(r"best shop: \d \(", checked)
    assert "apples" in output(nb, "with dask.config.set(scheduler=kernel_ext.get)")
