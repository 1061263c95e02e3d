"""Backends: threads, processes (notebook functions, lambdas, closures; SIGINT-proof) and sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import kernel_ext
from kernel_ext import Graph, JobStatus, Ref, Task


def test_processes_run_functions_lambdas_and_closures_defined_in_tests():
    offset = 100

    def add_offset(x):  # a closure over a local
        return x + offset

    def defined_here(x):
        return x * 2

    dsk = {
        "a": (lambda: 1,),
        "b": (defined_here, "a"),
        "c": (add_offset, "b"),
        "pid": (os.getpid,),
    }
    a, b, c, pid = kernel_ext.get(dsk, ["a", "b", "c", "pid"], backend="processes")
    assert (a, b, c) == (1, 2, 102)
    assert pid != os.getpid()


def test_processes_run_functions_defined_in_main(tmp_path):
    script = tmp_path / "notebook_like.py"
    script.write_text(textwrap.dedent("""
        import os
        import kernel_ext

        def double(x):
            return 2 * x

        def make_adder(n):
            return lambda x: x + n

        dsk = {
            "x": (lambda: 20,),
            "y": (double, "x"),
            "z": (make_adder(2), "y"),
            "pid": (os.getpid,),
        }
        if __name__ == "__main__":
            z, pid = kernel_ext.get(dsk, ["z", "pid"], backend="processes", num_workers=2)
            assert pid != os.getpid(), pid
            print("result", z)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "result 42"


def test_process_workers_ignore_sigint(tmp_path):
    pid_file = tmp_path / "pid"

    def report_pid_then_sleep():
        pid_file.write_text(str(os.getpid()))
        time.sleep(1.0)
        return "completed"

    job = kernel_ext.submit({"t": (report_pid_then_sleep,)}, "t", backend="processes",
                            num_workers=1)
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = int(pid_file.read_text())
    assert pid != os.getpid()
    os.kill(pid, signal.SIGINT)
    assert job.result(20) == "completed"
    assert job.status is JobStatus.FINISHED


def test_processes_respect_num_workers():
    def span(i):
        start = time.monotonic()
        time.sleep(0.3)
        return os.getpid(), start, time.monotonic()

    dsk = {f"t{i}": (span, i) for i in range(6)}
    results = kernel_ext.get(dsk, list(dsk), backend="processes", num_workers=2)
    assert len({pid for pid, _, _ in results}) == 2
    # At no moment were more than two tasks running.
    moments = sorted([(s, 1) for _, s, _ in results] + [(e, -1) for _, _, e in results],
                     key=lambda m: (m[0], m[1]))
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    assert peak == 2


def test_local_tasks_run_in_the_calling_process_on_the_process_backend():
    graph = Graph(
        [
            Task("remote", os.getpid),
            Task("local", lambda remote: (remote, os.getpid()), (Ref("remote"),), local=True),
        ]
    )
    remote, local = kernel_ext.get(graph, "local", backend="processes", num_workers=1)
    assert local == os.getpid() and remote != os.getpid()


def test_threads_is_the_default_backend():
    main = threading.current_thread().name
    name = kernel_ext.get({"t": (lambda: threading.current_thread().name,)}, "t")
    assert name != main and name.startswith("kernel_ext-")


def test_sync_runs_every_task_in_the_calling_thread():
    names = kernel_ext.get(
        {f"t{i}": (lambda: threading.current_thread().name,) for i in range(5)},
        [f"t{i}" for i in range(5)],
        backend="sync",
    )
    assert set(names) == {threading.current_thread().name}


def test_unpicklable_results_on_processes_say_what_to_do():
    def make_lock():
        return threading.Lock()

    try:
        kernel_ext.get({"lock": (make_lock,)}, "lock", backend="processes", num_workers=1)
    except TypeError as exc:
        assert "could not be sent to or from a worker process" in str(exc)
        assert "backend='threads'" in str(exc)
    else:
        raise AssertionError("a lock came back from a worker process")
