"""Short tasks travel to worker processes in batches, and each still counts on its own:
its result, its error, its events; a dead worker or a cancel fails only what it must."""

from __future__ import annotations

import os
import threading
import time

import kernel_ext
from kernel_ext import Graph, JobStatus, Task, TaskState, WorkerDiedError


def inc(x):
    return x + 1


def inc_or_fail(x):
    if x == 150:
        raise ValueError(f"bad input {x}")
    return x + 1


def inc_or_die(x):
    if x == 150:
        os._exit(3)
    return x + 1


def tiny_graph(func, n=400):
    return Graph([Task(("t", i), func, (i,), group="tiny") for i in range(n)])


def run_with_events(graph, **options):
    events = []
    lock = threading.Lock()

    def observe(batch):
        with lock:
            events.extend(batch)

    job = kernel_ext.Job(graph, list(graph.tasks), backend="processes", num_workers=2,
                         **options)
    job.subscribe(observe)
    job.start()
    job.wait(120)
    job._events.wait_closed(10)
    return job, events


def test_every_short_task_has_its_own_result_and_run():
    job, events = run_with_events(tiny_graph(inc, 2000))
    assert job.status is JobStatus.FINISHED
    assert job.result() == tuple(i + 1 for i in range(2000))
    finished = [e for e in events if e.state is TaskState.FINISHED]
    assert sorted(e.key for e in finished) == sorted(("t", i) for i in range(2000))
    # Each run's own times, in a worker process; a worker runs its tasks one after another.
    by_worker: dict[str, list] = {}
    for e in finished:
        assert e.worker.startswith("pid:") and e.start <= e.end
        by_worker.setdefault(e.worker, []).append((e.start, e.end))
    for spans in by_worker.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_a_failing_task_in_a_batch_fails_alone():
    job, events = run_with_events(tiny_graph(inc_or_fail), keep_going=True)
    assert job.status is JobStatus.FAILED
    assert [key for key, _ in job.errors] == [("t", 150)]
    error = job.errors[0][1]
    assert isinstance(error, ValueError) and "bad input 150" in str(error)
    counts = job.counts
    assert counts[TaskState.FINISHED] == 399 and counts[TaskState.FAILED] == 1
    assert job.results[("t", 151)] == 152


def test_a_task_killing_its_worker_in_a_batch_fails_alone():
    job, _ = run_with_events(tiny_graph(inc_or_die), keep_going=True)
    assert job.status is JobStatus.FAILED
    assert [key for key, _ in job.errors] == [("t", 150)]
    assert isinstance(job.errors[0][1], WorkerDiedError)
    assert job.counts[TaskState.FINISHED] == 399
    # The pool is whole again: the next job runs.
    assert kernel_ext.get(tiny_graph(inc, 50), [("t", 49)], backend="processes",
                          num_workers=2) == (50,)


def slow_inc(x):
    time.sleep(0.002)
    return x + 1


def test_cancel_stops_batched_work_and_the_pool_stays_usable():
    graph = tiny_graph(slow_inc, 20_000)  # 40 s of work on 2 workers
    job = kernel_ext.Job(graph, list(graph.tasks), backend="processes", num_workers=2)
    job.start()
    deadline = time.monotonic() + 30
    while job.counts[TaskState.FINISHED] < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    job.cancel()
    assert job.wait(10)
    assert job.status is JobStatus.CANCELLED
    assert 200 <= job.counts[TaskState.FINISHED] < 20_000
    assert kernel_ext.get(tiny_graph(inc, 10), [("t", 9)], backend="processes",
                          num_workers=2) == (10,)


def test_a_batch_waiting_behind_the_running_one_is_not_shown_running():
    # Each worker gets its next batch before the running one ends; the views must
    # still never show more running tasks than there are workers.
    graph = tiny_graph(slow_inc, 600)
    job = kernel_ext.Job(graph, list(graph.tasks), backend="processes", num_workers=2)
    job.start()
    most_running = 0
    while not job.wait(0.001):
        most_running = max(most_running, job.counts[TaskState.RUNNING])
    assert job.status is JobStatus.FINISHED
    assert job.result() == tuple(i + 1 for i in range(600))
    assert 1 <= most_running <= 2
