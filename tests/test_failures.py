"""Task failures: the original error, the stop policy, retries, keep_going, dead workers."""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
import traceback

import pytest

import kernel_ext
from kernel_ext import Graph, JobStatus, Task, TaskState, WorkerDiedError
from kernel_ext.process_pool import RemoteTraceback


class CustomError(Exception):
    pass


def fail_with_custom_error(x):
    raise CustomError(f"bad input {x}")


@pytest.mark.parametrize("backend", ["threads", "sync"])
def test_a_task_error_keeps_its_type_traceback_and_names_the_task(backend):
    with pytest.raises(CustomError, match="bad input 1") as info:
        kernel_ext.get({"x": 1, "y": (fail_with_custom_error, "x")}, "y", backend=backend)
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "fail_with_custom_error" in frames
    assert "(raised by kernel_ext task 'y')" in info.value.__notes__


def test_a_process_task_error_keeps_its_type_and_carries_the_worker_traceback():
    with pytest.raises(CustomError, match="bad input 1") as info:
        kernel_ext.get({"x": 1, "y": (fail_with_custom_error, "x")}, "y", backend="processes")
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "in fail_with_custom_error" in cause.text
    assert 'raise CustomError(f"bad input {x}")' in cause.text
    assert "(raised by kernel_ext task 'y')" in info.value.__notes__


def test_a_failure_stops_new_work_lets_running_tasks_finish_and_keeps_results():
    ran = []

    def fail_soon():
        time.sleep(0.05)
        raise ValueError("first failure")

    def slow():
        time.sleep(0.4)
        return "slow result"

    graph = Graph(
        [Task("bad", fail_soon), Task("slow", slow)]
        + [Task(f"later-{i}", ran.append, (i,)) for i in range(5)]
    )
    outputs = ["bad", "slow"] + [f"later-{i}" for i in range(5)]
    job = kernel_ext.submit(graph, outputs, num_workers=2)
    assert job.wait(10)
    assert job.status is JobStatus.FAILED
    assert ran == []  # nothing new started after the failure
    assert job.results == {"slow": "slow result"}  # the running task finished and was kept
    states = job.states()
    assert states["bad"] is TaskState.FAILED and states["slow"] is TaskState.FINISHED
    assert {states[f"later-{i}"] for i in range(5)} == {TaskState.CANCELLED}
    assert isinstance(job.exception(), ValueError)
    assert [key for key, _ in job.errors] == ["bad"]
    with pytest.raises(ValueError, match="first failure"):
        job.result()


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_a_flaky_task_succeeds_with_enough_retries(tmp_path, backend):
    counter = tmp_path / "attempts"

    def flaky():
        attempts = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(attempts))
        if attempts <= 2:
            raise OSError(f"flaky attempt {attempts}")
        return attempts

    events = []
    job = kernel_ext.submit({"f": (flaky,)}, "f", retries=2, backend=backend,
                            observers=[events.extend])
    assert job.result(30) == 3
    job._events.wait_closed(5)
    retried = [e for e in events if e.state is TaskState.RETRIED]
    assert [e.attempt for e in retried] == [1, 2]
    assert [str(e.error) for e in retried] == ["flaky attempt 1", "flaky attempt 2"]
    assert [e.state for e in events][-1] is TaskState.FINISHED


def test_retries_run_out_and_the_last_error_is_raised(tmp_path):
    attempts = []

    def always_fails():
        attempts.append(1)
        raise OSError(f"attempt {len(attempts)}")

    with pytest.raises(OSError, match="attempt 2"):
        kernel_ext.get({"f": (always_fails,)}, "f", retries=1)
    assert len(attempts) == 2


def test_keep_going_skips_dependents_of_a_failure_and_completes_the_rest():
    def boom():
        raise KeyError("broken")

    dsk = {
        "bad": (boom,),
        "child": (lambda x: x, "bad"),
        "grandchild": (lambda x: x, "child"),
        "independent": (lambda: "ok",),
        "uses-independent": (lambda x: x + "!", "independent"),
    }
    job = kernel_ext.submit(dsk, ["grandchild", "uses-independent"], keep_going=True,
                            num_workers=1)
    assert job.wait(10)
    states = job.states()
    assert states["bad"] is TaskState.FAILED
    assert states["child"] is TaskState.SKIPPED and states["grandchild"] is TaskState.SKIPPED
    assert states["uses-independent"] is TaskState.FINISHED
    assert job.results == {"uses-independent": "ok!"}
    assert job.status is JobStatus.FAILED
    with pytest.raises(KeyError, match="broken"):
        job.result()


# ------------------------------------------------------------ dead workers


def die_by_exit():
    os._exit(3)


def die_by_sigkill():
    os.kill(os.getpid(), signal.SIGKILL)


def die_by_segfault():
    ctypes.string_at(0)


def sleep_then_return(seconds):
    time.sleep(seconds)
    return "survivor"


@pytest.mark.parametrize(
    ("die", "detail"),
    [(die_by_exit, "exit code EXIT(3)"), (die_by_sigkill, "SIGKILL"), (die_by_segfault, "SIGSEGV")],
)
def test_a_dying_worker_fails_only_its_task_and_the_pool_recovers(die, detail):
    graph = Graph([Task("dies", die), Task("survives", sleep_then_return, (0.5,))])
    job = kernel_ext.submit(graph, ["dies", "survives"], backend="processes", num_workers=2)
    assert job.wait(30)
    assert job.status is JobStatus.FAILED
    assert job.results == {"survives": "survivor"}
    error = job.exception()
    assert isinstance(error, WorkerDiedError)
    assert error.key == "dies"
    assert "the worker process running task 'dies' died before it finished" in str(error)
    assert detail in str(error)
    # The next job on processes runs normally, on both workers.
    dsk = {"a": (sleep_then_return, 0.1), "b": (sleep_then_return, 0.1)}
    assert kernel_ext.get(dsk, ["a", "b"], backend="processes", num_workers=2) == (
        "survivor",
        "survivor",
    )


def test_a_task_whose_worker_died_is_retried(tmp_path):
    marker = tmp_path / "died-once"

    def die_on_first_attempt():
        if not marker.exists():
            marker.write_text("x")
            os._exit(3)
        return os.getpid()

    events = []
    job = kernel_ext.submit({"t": (die_on_first_attempt,)}, "t", backend="processes",
                            retries=1, observers=[events.extend])
    pid = job.result(30)
    job._events.wait_closed(5)
    assert marker.exists() and pid != os.getpid()
    retried = [e for e in events if e.state is TaskState.RETRIED]
    assert len(retried) == 1 and isinstance(retried[0].error, WorkerDiedError)


def test_an_observer_never_sees_a_worker_thread_even_on_failure():
    threads = set()
    job = kernel_ext.submit(
        {"bad": (fail_with_custom_error, 1)}, "bad",
        observers=[lambda batch: threads.add(threading.current_thread().name)],
    )
    job.wait(10)
    job._events.wait_closed(5)
    assert threads and not any("worker" in name for name in threads)
