"""Tutorial 06, scaling out: runs fresh on local Dask clusters, and closes them at the end."""

from __future__ import annotations

import contextlib
import re

import psutil
import pytest
from tutorials_support import check_tutorial, execute_fresh, text_of, the_cell

NAME = "06-scaling-out.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    return execute_fresh(NAME, tmp_path_factory.mktemp("t06"))


def output(nb, first_line: str) -> str:
    return text_of(the_cell(nb, first_line))


def html(nb, first_line: str) -> str:
    cell = the_cell(nb, first_line)
    return "".join(o.data.get("text/html", "") for o in cell.outputs
                   if o.output_type in ("display_data", "execute_result"))


def test_it_runs_within_a_minute_and_is_saved_with_its_views(executed) -> None:
    nb, seconds = executed
    check_tutorial(NAME, nb, seconds)


def test_cells_on_the_local_cluster_give_the_plain_results(executed) -> None:
    nb, _ = executed
    assert 'target="_blank">dashboard</a>' in html(nb, "%%parallel --cluster local --progress")
    assert output(nb, "started = time.perf_counter()\nplain_sales").startswith(
        "same names, same values as the plain cell: 7998.5 [2499.5, 2499.5, 1999.5, 1999.5]")
    timed = output(nb, "cluster_seconds = ")
    plain, cluster = map(float, re.search(
        r"plain: ([\d.]+) s, on the local cluster: ([\d.]+) s", timed).groups())
    assert cluster < plain  # seven half-second loads, on the cluster's workers at once


def test_your_own_cluster_its_dashboard_and_dasks_results(executed) -> None:
    nb, _ = executed
    started = output(nb, "from distributed import Client, LocalCluster")
    assert re.search(r"scheduler: tcp://127\.0\.0\.1:\d+", started)
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/status", started)
    job = output(nb, "def slow_load")
    assert "stored 168 | same as Dask's client.get and dask.threaded.get | finished" in job
    assert re.search(r"18 tasks · [\d.]+ s · 2 workers", job)
    assert output(nb, "values = kernel_ext.get").strip() == "(168, 'stored 168')"
    assert "equal to Dask's distributed and threaded schedulers" in output(
        nb, "import dask.array as da")
    assert "same values as the plain cell: 4499.0" in output(nb, "plain_a, plain_b")
    assert "could not reach a Dask scheduler at tcp://127.0.0.1:9" in output(
        nb, "from kernel_ext.cluster_run import connect")


def test_the_clusters_are_closed_and_the_kernel_leaves_no_process(executed) -> None:
    nb, _ = executed
    closing = output(nb, "kernel = psutil.Process()")
    kernel, workers = re.search(
        r"kernel (\d+) \| worker processes before closing: \[([\d, ]+)\]", closing).groups()
    workers = [int(pid) for pid in workers.split(",")]
    assert len(workers) == 3  # two of --cluster local, one of the notebook's own cluster
    assert "worker processes after closing: []" in closing
    # the clusters' processes are gone. (The kernel itself outlives the notebook's run:
    # scripts/run_notebooks.py hands nbclient its own KernelManager, which nbclient does not
    # shut down; whatever children it has left are the notebook's doing.)
    survivors = []
    for pid in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            survivors.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(survivors, timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    try:
        children = psutil.Process(int(kernel)).children(recursive=True)
    except psutil.NoSuchProcess:
        return  # the kernel has exited, and its children with it
    left = []
    for child in children:
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" not in command:  # Python's, until the kernel exits
            left.append((child.pid, command))
    assert left == []
