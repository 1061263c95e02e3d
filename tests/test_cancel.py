"""Cancellation: job.cancel() and Ctrl-C stop a job at once and leave the pool usable."""

from __future__ import annotations

import _thread
import os
import threading
import time

import psutil
import pytest

import kernel_ext
from kernel_ext import Graph, JobCancelledError, JobStatus, Task, TaskState


def _process_gone(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _wait_for_file(path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.01)
    raise AssertionError(f"{path} was not written within {timeout} s")


def test_cancel_on_threads_stops_dispatch_and_cancels_queued_work():
    started = threading.Event()
    gate = threading.Event()
    ran = []

    def blocker():
        started.set()
        gate.wait(10)
        return "late"

    graph = Graph([Task("running", blocker)] + [Task(f"q{i}", ran.append, (i,)) for i in range(5)])
    job = kernel_ext.submit(graph, ["running"] + [f"q{i}" for i in range(5)], num_workers=1)
    assert started.wait(5)
    t0 = time.monotonic()
    job.cancel()
    assert time.monotonic() - t0 < 1
    assert job.done() and job.status is JobStatus.CANCELLED
    assert set(job.states().values()) == {TaskState.CANCELLED}
    gate.set()
    time.sleep(0.1)
    assert ran == []  # queued work never ran, even after the running task returned
    assert job.results == {}
    with pytest.raises(JobCancelledError, match="was cancelled"):
        job.result()
    job.cancel()  # a second cancel is harmless


def test_cancel_terminates_a_running_process_task_and_the_pool_stays_usable(tmp_path):
    pid_file = tmp_path / "pid"

    def sleep_long():
        pid_file.write_text(str(os.getpid()))
        time.sleep(30)
        return "never"

    events = []
    job = kernel_ext.submit({"long": (sleep_long,)}, "long", backend="processes", num_workers=1,
                            observers=[events.extend])
    pid = int(_wait_for_file(pid_file))
    t0 = time.monotonic()
    job.cancel()
    assert time.monotonic() - t0 < 1
    assert job.wait(1)
    assert job.status is JobStatus.CANCELLED
    assert job.states() == {"long": TaskState.CANCELLED}
    assert _process_gone(pid)
    job._events.wait_closed(5)
    assert [e.state for e in events if e.key == "long"][-1] is TaskState.CANCELLED
    # The next job on processes runs normally.
    assert kernel_ext.get({"a": (os.getpid,)}, "a", backend="processes", num_workers=1) != pid


def _interrupt_main_after(seconds):
    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


def test_ctrl_c_during_wait_cancels_the_job():
    gate = threading.Event()
    job = kernel_ext.submit({"a": (gate.wait, 10), "b": (gate.wait, 10)}, ["a", "b"],
                            num_workers=1)
    timer = _interrupt_main_after(0.2)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            job.wait()
    finally:
        timer.cancel()
        gate.set()
    assert time.monotonic() - t0 < 2
    assert job.status is JobStatus.CANCELLED
    assert job.states()["b"] is TaskState.CANCELLED


@pytest.mark.parametrize("keep_going", [False, True])
def test_ctrl_c_in_a_task_on_the_sync_backend_cancels_the_job(keep_going):
    """The sync backend runs tasks in the caller's thread: Ctrl-C there stops the
    job (even with keep_going), it is not that task's failure."""
    ran = []

    def step(i):
        ran.append(i)
        if i == 5:
            _thread.interrupt_main()
            time.sleep(5)  # interrupted here
        return i

    dsk = {("t", i): (step, i) for i in range(10)}
    job = kernel_ext.Job(kernel_ext.api.as_graph(dsk), list(dsk), backend="sync",
                         keep_going=keep_going)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        job.start()
    assert time.monotonic() - t0 < 2
    assert ran == [0, 1, 2, 3, 4, 5]
    assert job.status is JobStatus.CANCELLED and job.errors == []
    # The tasks that ended before the interrupt keep their results.
    assert job.counts[TaskState.FINISHED] == 5 and job.counts[TaskState.CANCELLED] == 5
    assert job.results == {("t", i): i for i in range(5)}
    with pytest.raises(kernel_ext.errors.JobCancelledError):
        job.result()


def test_ctrl_c_during_get_on_processes_cancels_and_kills_the_task(tmp_path):
    pid_file = tmp_path / "pid"

    def sleep_long():
        pid_file.write_text(str(os.getpid()))
        time.sleep(30)

    def interrupt_when_running():
        _wait_for_file(pid_file)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        kernel_ext.get({"long": (sleep_long,)}, "long", backend="processes", num_workers=1)
    assert time.monotonic() - t0 < 20
    assert _process_gone(int(pid_file.read_text()))
