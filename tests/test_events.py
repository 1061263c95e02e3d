"""Events: every state change reaches observers, off the worker threads, and never breaks a job."""

from __future__ import annotations

import os
import threading
import time

import pytest

import kernel_ext
import kernel_ext.scheduler as scheduler
from kernel_ext import Graph, Ref, Task, TaskState
from kernel_ext.api import as_graph


class Recorder:
    """An observer that keeps every event and the threads it was called from."""

    def __init__(self) -> None:
        self.events = []
        self.threads = set()

    def __call__(self, batch):
        self.threads.add(threading.current_thread().name)
        self.events.extend(batch)

    def states(self, key):
        return [e.state for e in self.events if e.key == key]


def _end(job):
    job.wait(30)
    assert job._events.wait_closed(5)


def _chain_graph():
    return Graph(
        [
            Task("a", lambda: 1, group="first"),
            Task("b", lambda x: x + 1, (Ref("a"),), group="second"),
        ]
    )


@pytest.mark.parametrize("backend", ["threads", "processes", "sync"])
def test_each_state_change_is_an_event_with_key_group_worker_and_times(backend):
    rec = Recorder()
    before = time.monotonic()
    job = kernel_ext.submit(_chain_graph(), "b", backend=backend, observers=[rec])
    assert job.result(30) == 2
    _end(job)
    after = time.monotonic()
    assert [(e.key, e.state) for e in rec.events if e.key == "a"] == [
        ("a", TaskState.QUEUED),
        ("a", TaskState.RUNNING),
        ("a", TaskState.FINISHED),
    ]
    assert rec.states("b") == [TaskState.QUEUED, TaskState.RUNNING, TaskState.FINISHED]
    for e in rec.events:
        assert e.job_id == job.id
        assert e.group == {"a": "first", "b": "second"}[e.key]
    for e in rec.events:
        if e.state is TaskState.RUNNING:
            assert before <= e.start <= after
        if e.state is TaskState.FINISHED:
            assert before <= e.start <= e.end <= after
    workers = {e.worker for e in rec.events if e.state is not TaskState.QUEUED}
    if backend == "processes":
        assert all(w.startswith("pid:") for w in workers)
        assert all(int(w[4:]) != os.getpid() for w in workers)
    elif backend == "sync":
        assert workers == {threading.current_thread().name}
    else:
        assert all(w.startswith(f"kernel_ext-{job.id}-worker-") for w in workers)


def test_sync_events_name_the_calling_thread():
    rec = Recorder()
    out = []

    def caller():
        out.append(kernel_ext.get(_chain_graph(), "b", backend="sync", observers=[rec]))

    thread = threading.Thread(target=caller, name="the-callers-thread")
    thread.start()
    thread.join(10)
    assert out == [2]
    time.sleep(0.2)
    running = [e for e in rec.events if e.state is TaskState.RUNNING]
    assert {e.worker for e in running} == {"the-callers-thread"}


def test_observers_are_called_off_the_worker_threads_and_the_calling_thread():
    rec = Recorder()
    worker_threads = set()

    def work(i):
        worker_threads.add(threading.current_thread().name)
        return i

    job = kernel_ext.submit({f"t{i}": (work, i) for i in range(20)}, ["t0", "t19"], observers=[rec])
    job.result(10)
    _end(job)
    assert rec.events
    assert rec.threads
    assert not rec.threads & worker_threads
    assert threading.current_thread().name not in rec.threads


def test_an_observer_that_raises_does_not_break_the_job_or_other_observers(caplog):
    calls = []

    def broken(batch):
        calls.append(len(batch))
        raise RuntimeError("observer bug")

    rec = Recorder()
    job = kernel_ext.submit(_chain_graph(), "b", observers=[broken, rec])
    assert job.result(10) == 2
    _end(job)
    assert calls  # it was called, and raised
    assert rec.states("b")[-1] is TaskState.FINISHED
    assert "observer bug" in caplog.text


def test_subscribe_after_submit_sees_later_events():
    gate = threading.Event()
    graph = Graph([Task("a", gate.wait, (10,)), Task("b", lambda x: x, (Ref("a"),))])
    job = kernel_ext.submit(graph, "b", observers=[])
    rec = Recorder()
    job.subscribe(rec)
    gate.set()
    assert job.result(10) is True
    _end(job)
    assert rec.states("b") == [TaskState.QUEUED, TaskState.RUNNING, TaskState.FINISHED]
    assert rec.states("a")[-1] is TaskState.FINISHED


def test_done_callback_runs_after_the_last_event():
    rec = Recorder()
    seen_at_done = []
    done = threading.Event()

    def on_done(job):
        seen_at_done.append((job.status, len(rec.events), rec.states("t29")[-1:]))
        done.set()

    job = kernel_ext.submit({f"t{i}": (abs, -i) for i in range(30)}, ["t29"], observers=[rec])
    job.add_done_callback(on_done)
    job.result(10)
    assert done.wait(5)
    status, count, last = seen_at_done[0]
    assert status is kernel_ext.JobStatus.FINISHED
    assert count == len(rec.events) == 3
    assert last == [TaskState.FINISHED]
    # Added after the end: called at once, in this thread.
    late = []
    job.add_done_callback(lambda j: late.append(threading.current_thread()))
    assert late == [threading.current_thread()]


def test_failed_and_skipped_and_cancelled_tasks_end_in_one_final_event_each():
    def boom():
        raise ValueError("no")

    graph = Graph(
        [
            Task("bad", boom),
            Task("after-bad", lambda x: x, (Ref("bad"),)),
            Task("fine", lambda: 1),
        ]
    )
    rec = Recorder()
    job = kernel_ext.submit(graph, ["after-bad", "fine"], keep_going=True, observers=[rec])
    job.wait(10)
    _end(job)
    assert rec.states("bad")[-1] is TaskState.FAILED
    failed = [e for e in rec.events if e.state is TaskState.FAILED]
    assert isinstance(failed[0].error, ValueError) and failed[0].end >= failed[0].start
    assert rec.states("after-bad") == [TaskState.SKIPPED]
    assert rec.states("fine")[-1] is TaskState.FINISHED


def test_a_process_task_is_reported_running_while_it_runs(tmp_path):
    rec = Recorder()
    release = tmp_path / "release"

    def wait_for_release():
        while not release.exists():
            time.sleep(0.01)
        return os.getpid()

    job = kernel_ext.submit({"t": (wait_for_release,)}, "t", backend="processes", num_workers=1,
                            observers=[rec])
    try:
        deadline = time.monotonic() + 20
        while TaskState.RUNNING not in rec.states("t") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rec.states("t") == [TaskState.QUEUED, TaskState.RUNNING]
        assert not job.done()
    finally:
        release.write_text("go")
    pid = job.result(20)
    _end(job)
    assert rec.states("t") == [TaskState.QUEUED, TaskState.RUNNING, TaskState.FINISHED]
    assert {e.worker for e in rec.events if e.state is not TaskState.QUEUED} == {f"pid:{pid}"}


def test_an_observer_of_some_states_gets_only_those_and_others_still_get_all(monkeypatch):
    finals = Recorder()
    everything = Recorder()
    built = []

    make_event = scheduler.make_event

    def counting(fields):
        built.append(fields[3])
        return make_event(fields)

    graph = {f"t{i}": (abs, -i) for i in range(20)}
    job = kernel_ext.Job(as_graph(graph), [f"t{i}" for i in range(20)])
    job.subscribe(finals, states={TaskState.FINISHED, TaskState.FAILED})
    monkeypatch.setattr(scheduler, "make_event", counting)
    job.start()
    job.result(10)
    _end(job)
    assert [e.state for e in finals.events] == [TaskState.FINISHED] * 20
    assert {e.key for e in finals.events} == set(graph)
    assert all(e.start is not None and e.end >= e.start for e in finals.events)
    # Nobody asked for QUEUED or RUNNING: those events were never built.
    assert built == [TaskState.FINISHED] * 20

    job = kernel_ext.Job(as_graph(graph), [f"t{i}" for i in range(20)])
    finals = Recorder()
    job.subscribe(finals, states={TaskState.FINISHED})
    job.subscribe(everything)
    job.start()
    job.result(10)
    _end(job)
    assert [e.state for e in finals.events] == [TaskState.FINISHED] * 20
    assert len(everything.events) == 60
    assert everything.states("t3") == [TaskState.QUEUED, TaskState.RUNNING, TaskState.FINISHED]


def test_subscribing_again_changes_the_states_and_unsubscribing_stops_events():
    rec = Recorder()
    job = kernel_ext.Job(as_graph({"a": (abs, -1)}), "a")
    job.subscribe(rec)
    job.subscribe(rec, states={TaskState.FINISHED})
    assert job._events.wanted == {TaskState.FINISHED}
    assert len(job._events._observers) == 1
    job.unsubscribe(rec)
    assert job._events.wanted == frozenset() and not job._events.active
    job.subscribe(rec, states=[TaskState.RUNNING])
    job.start()
    assert job.result(10) == 1
    _end(job)
    assert [e.state for e in rec.events] == [TaskState.RUNNING]
