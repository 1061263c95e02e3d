"""The dask backend against a real cluster: a `dask scheduler` and two `dask worker`
processes on 127.0.0.1, started (and stopped) by this module. Jobs run on the workers,
their events come from the cluster's scheduler, a killed worker is survived, a cancel
releases the work, and an address nobody listens on fails fast with a clear message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dask.array as da
import pytest

import kernel_ext
from kernel_ext import JobStatus, TaskState

DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the cluster did not come up in time")
        time.sleep(0.2)


class Cluster:
    """A scheduler and two single-process workers (no nanny: a killed worker stays dead)."""

    def __init__(self) -> None:
        self.port, self.dashboard = free_port(), free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
             "--dashboard-address", f"127.0.0.1:{self.dashboard}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers = [subprocess.Popen(
            [DASK, "worker", self.address, "--nthreads", "2", "--no-nanny",
             "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{n}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(2)]

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client

    running = Cluster()
    try:
        client = Client(running.address, timeout=60, set_as_default=False)
        wait_for(lambda: len(client.scheduler_info()["workers"]) == 2)
        running.client = client
        yield running
        client.close()
    finally:
        running.close()


def whoami(x):
    time.sleep(0.05)
    return os.getpid(), x


def nap_and_double(x):
    time.sleep(0.5)
    return 2 * x


def total(*pairs):
    return sum(x for _, x in pairs)


def fail(x):
    raise ValueError(f"bad input {x}")


def worker_pids(client) -> set[int]:
    return set(client.run(os.getpid).values())


def test_tasks_run_on_the_clusters_workers_with_its_events(cluster):
    dsk = {("who", i): (whoami, i) for i in range(16)}
    events = []
    job = kernel_ext.submit(dsk, list(dsk), backend="dask", address=cluster.address,
                            observers=[events.extend])
    results = job.result(timeout=60)
    assert [x for _, x in results] == list(range(16))
    assert {pid for pid, _ in results} <= worker_pids(cluster.client)
    assert len({pid for pid, _ in results}) == 2  # both workers took some
    job._events.wait_closed(10)
    finished = [e for e in events if e.state is TaskState.FINISHED]
    assert len(finished) == 16
    # A lane per worker thread, named from the worker's address; times from the worker.
    lanes = {e.worker for e in finished}
    assert all(lane.startswith("127.0.0.1:") and " #" in lane for lane in lanes)
    assert 2 <= len(lanes) <= 4
    assert all(e.end - e.start >= 0.04 for e in finished)
    assert job.num_workers == 4  # the cluster's threads


def test_a_dask_collection_runs_on_the_cluster(cluster):
    x = da.arange(10_000, chunks=1000)
    assert x.sum().compute(scheduler=kernel_ext.get, backend="dask",
                           client=cluster.client) == x.sum().compute(scheduler="sync")


def test_a_failing_task_raises_its_own_error(cluster):
    dsk = {"a": 1, "b": (fail, "a"), "c": (abs, "b")}
    with pytest.raises(ValueError, match="bad input 1"):
        kernel_ext.get(dsk, "c", backend="dask", address=cluster.address)


def test_a_killed_worker_is_survived(cluster):
    # Its own pair of workers: killing one must not take the module's workers away.
    extra = [subprocess.Popen(
        [DASK, "worker", cluster.address, "--nthreads", "1", "--no-nanny", "--host",
         "127.0.0.1", "--no-dashboard", "--resources", "spare=1", "--name", f"spare{n}"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(2)]
    try:
        wait_for(lambda: len(cluster.client.scheduler_info()["workers"]) == 4)
        dsk = {("nap", i): (nap_and_double, i) for i in range(12)}
        job = kernel_ext.submit(dsk, list(dsk), backend="dask", address=cluster.address)
        wait_for(lambda: job.counts[TaskState.RUNNING] > 0, timeout=30)
        extra[0].send_signal(signal.SIGKILL)  # mid-task, as the out-of-memory killer would
        assert job.result(timeout=90) == tuple(2 * i for i in range(12))
        assert job.status is JobStatus.FINISHED
    finally:
        for proc in extra:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        wait_for(lambda: len(cluster.client.scheduler_info()["workers"]) == 2)


def test_cancel_releases_the_work_on_the_cluster(cluster):
    dsk = {("nap", i): (nap_and_double, i) for i in range(40)}  # 5 s on 4 threads
    job = kernel_ext.submit(dsk, list(dsk), backend="dask", address=cluster.address)
    wait_for(lambda: job.counts[TaskState.RUNNING] > 0, timeout=30)
    began = time.monotonic()
    job.cancel()
    assert job.wait(1.0)
    assert time.monotonic() - began < 1.0
    assert job.status is JobStatus.CANCELLED
    # The scheduler lets go of the job's tasks (those running finish, unheard).
    wait_for(lambda: not any(cluster.client.processing().values()), timeout=10)
    wait_for(lambda: cluster.client.run_on_scheduler(
        lambda dask_scheduler: sum("-kx" in str(k) for k in dask_scheduler.tasks)) == 0,
        timeout=10)


def test_an_unreachable_address_fails_fast_with_a_clear_message():
    nobody = f"tcp://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with pytest.raises(ConnectionError) as caught:
        kernel_ext.get({"a": 1}, "a", backend="dask", address=nobody)
    assert time.monotonic() - began < 15  # the connect timeout, not a hang
    assert nobody in str(caught.value) and "dask scheduler" in str(caught.value)


def test_without_a_cluster_the_dask_backend_says_what_to_pass():
    with pytest.raises(ValueError, match="address="):
        kernel_ext.get({"a": 1}, "a", backend="dask")


VIEWS_CELL = """\
import time, kernel_ext

def inc(x):
    time.sleep(0.05)
    return x + 1

def add(*xs):
    return sum(xs)

dsk = {("inc", i): (inc, i) for i in range(30)}
dsk["add"] = (add, *[("inc", i) for i in range(30)])
job = kernel_ext.submit(dsk, ["add"], backend="dask", address=ADDRESS)
job.show(stream=True, graph=True)
print(job.result())
"""


def test_the_views_of_a_cluster_job_in_a_real_kernel(cluster, tmp_path):
    import json

    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"ADDRESS = {cluster.address!r}"),
                nbformat.v4.new_code_cell(VIEWS_CELL)]
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    NotebookClient(nb, km=km, timeout=120, store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.get("name") == "stdout")
    assert printed.strip() == f"({sum(range(1, 31))},)"
    states = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"].values()
    bars = sorted((s["state"]["max"], s["state"]["value"]) for s in states
                  if s["model_name"] == "IntProgressModel")
    assert bars == [(1, 1), (30, 30), (31, 31)]  # add, inc, overall: all finished
    bundle = next(s["state"]["render_bundle"] for s in states if s["model_name"] == "BokehModel")
    text = bundle if isinstance(bundle, str) else json.dumps(bundle)
    assert "127.0.0.1:" in text  # the stream's lanes are the cluster's worker threads


CELL_SETUP = """\
%load_ext kernel_ext
import time

def slow(x):
    time.sleep(0.3)
    return x * 2
"""

CLUSTER_CELL = """\
%%parallel {flag} --stream
a = slow(1)
b = slow(2)
c = [slow(i) for i in range(6)]
print(a + b, c)
"""


def run_cells(tmp_path, *cells: str):
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    NotebookClient(nb, km=km, timeout=180, store_widget_state=True, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def cell_text(nb, index: int) -> str:
    parts = []
    for o in nb.cells[index].outputs:
        parts.append(o.get("text", ""))
        parts.append(str(o.get("data", {}).get("text/html", "")))
        parts.append(o.get("ename", "") + ": " + o.get("evalue", "") if "ename" in o else "")
    return "".join(parts)


@pytest.mark.parametrize("flag", ["--scheduler", "--cluster local"])
def test_a_parallel_cell_runs_on_a_cluster(cluster, tmp_path, flag):
    option = f"--scheduler {cluster.address}" if flag == "--scheduler" else flag
    nb = run_cells(tmp_path, CELL_SETUP, CLUSTER_CELL.format(flag=option))
    out = cell_text(nb, 1)
    assert "6 [0, 2, 4, 6, 8, 10]" in out  # what the plain cell prints
    assert "dashboard" in out and "http://" in out  # a link to the cluster's dashboard
    states = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"].values()
    bundle = next(s["state"]["render_bundle"] for s in states if s["model_name"] == "BokehModel")
    # The statements ran on the cluster's worker threads: the stream's lanes say so.
    assert "127.0.0.1:" in (bundle if isinstance(bundle, str) else str(bundle))


def test_large_results_collected_at_once_all_come_back(cluster, tmp_path):
    """Four statements end together with results that take the client longer than
    0.1 s to gather: each comes back whole (a polling timeout in one collecting
    thread once cancelled the gather the client shared with the others)."""
    nb = run_cells(tmp_path, CELL_SETUP + "def big(tag):\n    time.sleep(0.3)\n"
                   "    return tag * 40_000_000\n",
                   f"%%parallel --scheduler {cluster.address}\n"
                   "a = big(b'a')\nb = big(b'b')\nc = big(b'c')\nd = big(b'd')\n",
                   "print([len(v) for v in (a, b, c, d)], a[-1:] + b[-1:] + c[-1:] + d[-1:])")
    assert "Error" not in cell_text(nb, 1)
    assert cell_text(nb, 2).strip() == "[40000000, 40000000, 40000000, 40000000] b'abcd'"


def test_a_cell_with_an_unreachable_scheduler_fails_fast_and_clearly(tmp_path):
    nobody = f"tcp://127.0.0.1:{free_port()}"
    began = time.monotonic()
    nb = run_cells(tmp_path, "%load_ext kernel_ext\nx = 1",
                   f"%%parallel --scheduler {nobody}\nx = 2\n", "print(x)")
    assert time.monotonic() - began < 60
    assert nobody in cell_text(nb, 1) and "dask scheduler" in cell_text(nb, 1)
    assert cell_text(nb, 2).strip() == "1"  # nothing ran: the namespace is as it was


def test_dask_flag_without_a_default_client_says_what_to_do(tmp_path):
    nb = run_cells(tmp_path, "%load_ext kernel_ext", "%%parallel --dask\nx = 2\n")
    assert "distributed.Client" in cell_text(nb, 1)


def test_interrupting_a_cluster_cell_cancels_its_work_on_the_cluster(cluster, tmp_path):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    km.start_kernel(cwd=str(tmp_path))
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive(
            "%load_ext kernel_ext\nimport time\ndef long_nap(x):\n    time.sleep(60)\n"
            "    return x\n", timeout=60)
        msg_id = client.execute(f"%%parallel --scheduler {cluster.address}\n"
                                "a = long_nap(1)\nb = long_nap(2)\n")
        wait_for(lambda: sum(len(v) for v in cluster.client.processing().values()) == 2,
                 timeout=30)
        began = time.monotonic()
        km.interrupt_kernel()
        reply = client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=30)
        assert time.monotonic() - began < 2.0
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        # The cluster lets go of the cell's calls (running ones are released, unheard).
        wait_for(lambda: not any(cluster.client.processing().values()), timeout=10)
        out = client.execute_interactive("print('a' in dir(), 'b' in dir())", timeout=30)
        assert out["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def test_dask_flag_runs_on_the_default_client(cluster, tmp_path):
    nb = run_cells(tmp_path, CELL_SETUP + f"from distributed import Client\n"
                   f"client = Client({cluster.address!r})\n",
                   CLUSTER_CELL.format(flag="--dask"))
    out = cell_text(nb, 1)
    assert "6 [0, 2, 4, 6, 8, 10]" in out and cluster.address.split("//")[1] in out


def test_the_local_cluster_is_closed_with_its_kernel(tmp_path):
    import psutil
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    km.start_kernel(cwd=str(tmp_path))
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    reply = client.execute_interactive(
        "%load_ext kernel_ext\n", timeout=60)
    reply = client.execute_interactive(
        "%%parallel --cluster local\nx = sum(range(10))\n", timeout=120)
    assert reply["content"]["status"] == "ok"
    kernel = psutil.Process(km.provisioner.process.pid)
    children = kernel.children(recursive=True)
    assert children  # the LocalCluster's worker processes
    client.stop_channels()
    km.shutdown_kernel(now=False)  # as JupyterLab's shutdown asks
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, alive
