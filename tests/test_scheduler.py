"""The scheduler: dependency-driven runs, worker limits, and the Job object."""

from __future__ import annotations

import threading
import time
from collections import Counter
from operator import add

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kernel_ext
from kernel_ext import Graph, JobStatus, Ref, Task, TaskState
from kernel_ext.api import as_graph
from kernel_ext.events import FINAL_STATES


@st.composite
def dags(draw):
    """Random DAGs: task i may depend on any tasks before it; some keys are outputs."""
    n = draw(st.integers(min_value=1, max_value=30))
    deps = [
        sorted(draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=4))) if i else []
        for i in range(n)
    ]
    outputs = draw(st.lists(st.integers(min_value=0, max_value=n - 1), min_size=1, max_size=5))
    return deps, outputs


def _run_recorded(deps, outputs, backend):
    lock = threading.Lock()
    runs: list[int] = []
    violations: list[str] = []
    done: set[int] = set()

    def make(i):
        def task(*inputs):
            with lock:
                runs.append(i)
                missing = set(deps[i]) - done
                if missing:
                    violations.append(f"task {i} ran before {sorted(missing)}")
            time.sleep(0.0005 * (i % 3))  # let other workers overtake
            with lock:
                done.add(i)
            return i + sum(inputs)

        return task

    graph = Graph(Task(i, make(i), tuple(Ref(d) for d in deps[i])) for i in range(len(deps)))
    events = []
    job = kernel_ext.submit(
        graph, outputs, backend=backend, num_workers=3, observers=[events.extend]
    )
    result = job.result(timeout=30)
    job._events.wait_closed(5)
    return job, result, runs, violations, events


def _expected_values(deps):
    values = []
    for i, ds in enumerate(deps):
        values.append(i + sum(values[d] for d in ds))
    return values


def _needed(deps, outputs):
    needed, stack = set(), list(outputs)
    while stack:
        i = stack.pop()
        if i not in needed:
            needed.add(i)
            stack.extend(deps[i])
    return needed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag=dags(), backend=st.sampled_from(["threads", "sync"]))
def test_every_needed_task_runs_once_after_its_dependencies(dag, backend):
    deps, outputs = dag
    job, result, runs, violations, events = _run_recorded(deps, outputs, backend)
    assert violations == []
    assert sorted(runs) == sorted(_needed(deps, outputs))  # exactly once, nothing extra
    values = _expected_values(deps)
    assert result == tuple(values[i] for i in outputs)
    assert job.status is JobStatus.FINISHED
    assert job.counts[TaskState.FINISHED] == len(runs)

    # Balanced events: every task is queued, starts, and ends in exactly one final state.
    by_key: dict = {}
    for ev in events:
        by_key.setdefault(ev.key, []).append(ev.state)
    assert set(by_key) == set(runs)
    for states in by_key.values():
        assert states == [TaskState.QUEUED, TaskState.RUNNING, TaskState.FINISHED]


def test_two_workers_never_run_more_than_two_tasks_at_once():
    lock = threading.Lock()
    now = 0
    peak = 0

    def work(i):
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        time.sleep(0.01)
        with lock:
            now -= 1
        return i

    dsk = {f"t{i}": (work, i) for i in range(20)}
    assert kernel_ext.get(dsk, list(dsk), num_workers=2) == tuple(range(20))
    assert peak == 2


def test_threads_run_independent_tasks_in_parallel():
    barrier = threading.Barrier(3, timeout=5)

    def meet(i):
        barrier.wait()  # deadlocks (BrokenBarrierError) unless three run at once
        return i

    dsk = {f"t{i}": (meet, i) for i in range(3)}
    assert kernel_ext.get(dsk, ["t0", "t1", "t2"], num_workers=3) == (0, 1, 2)


def test_a_task_claimed_behind_a_blocked_one_is_run_by_a_free_worker():
    """Tiny tasks of a group are taken in batches; if two of the group's tasks must
    meet and land in one worker's batch, the other worker must take the second."""
    for _ in range(5):
        barrier = threading.Barrier(2, timeout=5)

        def step(i, barrier=barrier):
            if i >= 298:
                barrier.wait()  # BrokenBarrierError unless both run at once
            return i

        dsk = {("t", i): (step, i) for i in range(300)}
        assert kernel_ext.get(dsk, list(dsk), num_workers=2) == tuple(range(300))


def test_a_slow_task_does_not_hold_back_tiny_ones_run_before_it():
    """Results of a batch are recorded before a task of a group not known to be
    tiny starts: the progress shows them done while it runs."""
    gate = threading.Event()
    dsk = {("x", i): (abs, -i) for i in range(300)}
    dsk["slow"] = (gate.wait, 30)
    job = kernel_ext.Job(as_graph(dsk), list(dsk), num_workers=1)
    job.start()
    deadline = time.monotonic() + 10
    while job.counts[TaskState.FINISHED] < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert job.counts[TaskState.FINISHED] == 300 and job.counts[TaskState.RUNNING] == 1
    finally:
        gate.set()
    assert job.result()[-1] is True


def test_a_failure_in_a_batch_of_tiny_tasks_starts_nothing_after_it():
    ran = []

    def step(i):
        ran.append(i)
        if i == 100:
            raise ValueError("stop here")
        return i

    dsk = {("t", i): (step, i) for i in range(1000)}
    job = kernel_ext.Job(as_graph(dsk), list(dsk), num_workers=1)
    job.start()
    job.wait()
    assert job.status is JobStatus.FAILED and str(job.exception()) == "stop here"
    assert ran == list(range(101))  # one worker: in order, and nothing after the failure
    assert job.counts[TaskState.CANCELLED] == 899 and job.counts[TaskState.RUNNING] == 0


def test_submit_returns_at_once_and_the_job_reports_its_progress():
    gate = threading.Event()

    def wait_for_gate(i):
        assert gate.wait(10)
        return i * 10

    dsk = {"a": (wait_for_gate, 1), "b": (wait_for_gate, 2), "c": (add, "a", "b")}
    started = time.monotonic()
    job = kernel_ext.submit(dsk, ["c", "a"], num_workers=2)
    assert time.monotonic() - started < 0.5
    assert job.status is JobStatus.RUNNING
    assert not job.done()
    assert job.wait(timeout=0.05) is False
    assert job.states()["c"] is TaskState.WAITING
    assert job.results == {}
    gate.set()
    assert job.wait(timeout=10) is True
    assert job.done()
    assert job.result() == (30, 10)
    assert job.status is JobStatus.FINISHED
    assert job.results == {"c": 30, "a": 10}
    assert job.counts[TaskState.FINISHED] == 3
    assert job.exception() is None and job.errors == []
    assert job.ended_at >= job.started_at


def test_a_job_of_sleeping_tasks_does_not_block_submit_on_processes():
    started = time.monotonic()
    job = kernel_ext.submit({"a": (time.sleep, 1.0)}, "a", backend="processes", num_workers=1)
    assert time.monotonic() - started < 0.5
    assert not job.done()
    assert job.result(timeout=20) is None


def test_result_with_a_timeout_raises_timeout_error_while_running():
    gate = threading.Event()
    job = kernel_ext.submit({"a": (gate.wait, 10)}, "a")
    try:
        started = time.monotonic()
        try:
            job.result(timeout=0.1)
        except TimeoutError as exc:
            assert "did not finish within 0.1 s" in str(exc)
        else:
            raise AssertionError("result() returned while the task was blocked")
        assert time.monotonic() - started < 1
    finally:
        gate.set()
    assert job.result(5) is True


def test_sync_backend_runs_in_the_calling_thread_before_submit_returns():
    threads = []
    job = kernel_ext.submit(
        {"a": (lambda: threads.append(threading.current_thread()) or 1,)}, "a", backend="sync"
    )
    assert job.done()
    assert threads == [threading.current_thread()]
    assert job.result() == 1


def test_outputs_that_are_also_intermediates_are_kept():
    dsk = {"a": (lambda: [1],), "b": (len, "a"), "c": (add, "b", 1)}
    assert kernel_ext.get(dsk, ["c", "a"], backend="threads") == (2, [1])


def test_an_empty_list_of_keys_gives_an_empty_result():
    job = kernel_ext.submit({"a": (lambda: 1,)}, [])
    assert job.result(1) == ()
    assert job.status is JobStatus.FINISHED


def test_counts_cover_every_task_in_a_final_state():
    job = kernel_ext.submit({f"t{i}": (abs, -i) for i in range(50)}, [f"t{i}" for i in range(50)])
    job.result(10)
    counts = Counter({s: n for s, n in job.counts.items() if n})
    assert counts == Counter({TaskState.FINISHED: 50})
    assert all(s in FINAL_STATES for s in job.states().values())


def test_group_counts_are_exact_at_the_end_and_consistent_while_running():
    def boom(x):
        raise ValueError("no")

    gate = threading.Event()
    tasks = [Task(f"a{i}", abs, (-i,), group="abs") for i in range(30)]
    tasks += [Task("gate", gate.wait, (10,), group="gate"),
              Task("bad", boom, (Ref("gate"),), group="bad"),
              Task("after", abs, (Ref("bad"),), group="after")]
    keys = [t.key for t in tasks]
    job = kernel_ext.Job(Graph(tasks), keys, keep_going=True, num_workers=2)
    before = job.group_counts()
    assert list(before) == list(dict.fromkeys(job.group_of(k) for k in job.keys))
    assert {g: c[TaskState.WAITING] for g, c in before.items()} == {
        "abs": 30, "gate": 1, "bad": 1, "after": 1}
    job.start()
    snapshots = []
    while not job.done():
        snapshots.append(job.group_counts())
        if len(snapshots) == 20:
            gate.set()
        time.sleep(0.001)
    for snap in snapshots:  # every snapshot accounts for every task exactly once
        assert {g: sum(c.values()) for g, c in snap.items()} == {
            "abs": 30, "gate": 1, "bad": 1, "after": 1}
    assert any(s["gate"][TaskState.RUNNING] == 1 for s in snapshots)
    final = {g: {s: n for s, n in c.items() if n} for g, c in job.group_counts().items()}
    assert final == {"abs": {TaskState.FINISHED: 30}, "gate": {TaskState.FINISHED: 1},
                     "bad": {TaskState.FAILED: 1}, "after": {TaskState.SKIPPED: 1}}
    # The job's totals are the sum over groups.
    assert Counter({s: n for s, n in job.counts.items() if n}) == Counter(
        {TaskState.FINISHED: 31, TaskState.FAILED: 1, TaskState.SKIPPED: 1})


def test_group_counts_add_up_in_every_snapshot_of_a_busy_job():
    """Snapshots are taken without the job's lock; each must still account for every task."""
    tasks = [Task(("t", i), abs, (-i,), group=f"g{i % 4}") for i in range(40_000)]
    job = kernel_ext.Job(Graph(tasks), [t.key for t in tasks], num_workers=2)
    job.start()
    snapshots = []
    while not job.done():
        snapshots.append(job.group_counts())
    snapshots.append(job.group_counts())
    assert len(snapshots) > 2
    for snap in snapshots:
        assert {g: sum(c.values()) for g, c in snap.items()} == {f"g{k}": 10_000 for k in range(4)}
    assert all(c[TaskState.FINISHED] == 10_000 for c in snapshots[-1].values())


def test_structure_numbers_tasks_in_key_order():
    graph = Graph([Task("a", abs, (-1,), group="g1"), Task("b", abs, (Ref("a"),), group="g2"),
                   Task("c", add, (Ref("a"), Ref("b")), group="g2")])
    job = kernel_ext.Job(graph, "c")
    groups, dependents = job.structure()
    assert groups == [job.group_of(k) for k in job.keys]
    named = {job.keys[i]: sorted(job.keys[j] for j in d) for i, d in enumerate(dependents)}
    assert named == {"a": ["b", "c"], "b": ["c"], "c": []}
