"""The scheduler: runs a task graph on a pool of workers as a :class:`Job`.

Design
------
A job numbers the tasks it needs in priority order (:mod:`kernel_ext.ordering`)
and from then on works with integers. Its state is:

``waiting[i]``     dependencies of task i that have not finished; i is ready at 0.
``consumers[i]``   dependents of task i that have not finished; its result is
                   released at 0 unless i is an output.
``ready``          a heap of ready task numbers: the lowest (highest priority)
                   is taken first, which finishes branches before starting new
                   ones and keeps memory low.
``states[i]``      the task's :class:`TaskState`.
``counts_of[i]``   the state tally of task i's group (one dict per group,
                   shared by its tasks), kept with ``states``: views poll
                   ``group_counts()`` instead of following every event.
``results[i]``     the value of a finished task, until it is released.

Workers are *slices* on the kernel's one shared thread pool
(:mod:`kernel_ext.thread_pool`): a job keeps at most ``num_workers`` slices
queued or running. A slice takes the best ready task under the job's lock,
runs it outside the lock, then records the result, makes dependents ready and
releases inputs under the lock again. There is no central dispatcher and no
per-task future: a slice that makes a dependent ready usually runs it itself
next, so a task of a few microseconds costs a few microseconds (tasks of groups
known to take microseconds are taken and recorded in batches: see
``_run_batches``). When more than one task becomes ready, more slices are
queued; a slice with nothing ready ends, and one that has run for a quantum
goes to the back of the pool's queue, so concurrent jobs share the threads
fairly. ``sync`` runs one slice to the end in the calling thread.

The ``processes`` backend uses the same slices; each slice borrows one worker
process (:mod:`kernel_ext.process_pool`) and sends the call there. Tasks marked
``local`` run in the loop's own thread.

Failure policy: by default the first failure stops dispatch; running tasks
finish, finished results stay, everything else is cancelled and ``result()``
raises the error. With ``keep_going`` the failed task's dependents are skipped
and the rest completes. ``retries`` re-queues a failed task up to N times.

Events (:mod:`kernel_ext.events`) are produced only while someone observes,
and are delivered by the job's dispatcher thread, never by the workers.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from kernel_ext.child_jobs import ChildJobs
from kernel_ext.errors import JobCancelledError
from kernel_ext.events import (
    FINAL_STATES,
    TASK_STATES,
    EventDispatcher,
    Observer,
    TaskState,
    make_event,
)
from kernel_ext.graph import Graph, needs_resolving
from kernel_ext.ordering import order
from kernel_ext.process_batches import BatchSizer
from kernel_ext.process_pool import ProcessSlot, SlotPool
from kernel_ext.slices import SliceRunner
from kernel_ext.thread_pool import SharedThreadPool, shared_pool

BACKENDS = ("threads", "processes", "sync", "dask")

_job_ids = itertools.count(1)
_slot_pool = SlotPool()  # the kernel's worker processes, shared by all jobs


class JobStatus(enum.Enum):
    PENDING = "pending"  # created, not started
    RUNNING = "running"
    FINISHED = "finished"  # every needed task finished
    FAILED = "failed"  # a task failed (after retries); see Job.exception()
    CANCELLED = "cancelled"  # Job.cancel() was called before the job ended


_RELEASED = object()  # marks a result slot whose value was released
_COUNTED = TASK_STATES


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Job(SliceRunner, ChildJobs):
    """One run of a graph. Create with :func:`kernel_ext.submit`; it does not block.

    ``outputs`` is the requested key structure (a key, or nested lists of keys);
    ``result()`` returns values in that shape, lists as tuples (as Dask's ``get``).
    """

    def __init__(
        self,
        graph: Graph,
        outputs: Any,
        *,
        backend: str = "threads",
        num_workers: int | None = None,
        retries: int = 0,
        keep_going: bool = False,
        name: str | None = None,
        pool: SharedThreadPool | None = None,
        parent: Job | None = None,
        parent_key: Hashable = None,
        in_place: Iterable[Hashable] = (),
        loop_order: bool = False,
        replaces_task: bool = True,
        client: Any = None,
        slot_pool: Any = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(
                f"unknown backend {backend!r}; choose one of {', '.join(map(repr, BACKENDS))}"
            )
        if num_workers is not None and (not isinstance(num_workers, int) or num_workers < 1):
            raise ValueError(f"num_workers must be a positive integer, not {num_workers!r}")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative integer, not {retries!r}")
        if parent is not None:  # a child runs in its parent's slices (kernel_ext.child_jobs)
            backend, num_workers, pool = parent.backend, parent.num_workers, parent._pool
        self.id = next(_job_ids)
        self.name = name or f"job {self.id}"
        self.graph = graph
        self.outputs = outputs
        self.backend = backend
        self.num_workers = 1 if backend == "sync" else (num_workers or default_workers())
        self.retries = retries
        self.keep_going = keep_going
        self.status = JobStatus.PENDING
        self.started_at: float | None = None
        self.ended_at: float | None = None

        output_keys = list(_flatten_keys(outputs))
        self.keys: list[Hashable] = order(graph, output_keys)
        n = len(self.keys)
        index = {key: i for i, key in enumerate(self.keys)}
        self._index = index
        tasks = [graph.tasks[key] for key in self.keys]
        self._tasks = tasks
        self._groups = [t.group for t in tasks]
        self._dependents: list[list[int]] = [[] for _ in range(n)]
        self._waiting = [0] * n
        for i, key in enumerate(self.keys):
            deps = graph.dependencies[key]
            self._waiting[i] = len(deps)
            for dep in deps:
                self._dependents[index[dep]].append(i)
        self._consumers = [len(d) for d in self._dependents]
        self._is_output = [False] * n
        for key in output_keys:
            self._is_output[index[key]] = True
        # How to build each task's call: None = literal args, as given.
        self._needs_resolving = [
            needs_resolving(t.args) or (bool(t.kwargs) and needs_resolving(t.kwargs))
            for t in tasks
        ]
        self._attempts = [0] * n
        self._results: list[Any] = [_RELEASED] * n
        self._states = [TaskState.WAITING] * n
        # Per group, how many of its tasks are in each state; _counts_of[i] is task i's.
        self._group_sizes = collections.Counter(self._groups)
        self._group_counts: dict[str, dict[TaskState, int]] = {
            group: {s: (total if s is TaskState.WAITING else 0) for s in _COUNTED}
            for group, total in self._group_sizes.items()
        }
        self._counts_of = list(map(self._group_counts.__getitem__, self._groups))
        self._unresolved = n  # tasks not yet in a final state
        self._ready: list[int] = []
        # Per worker running a batch, its claimed tasks not yet started (see _run_batches).
        self._claimed: list[collections.deque[int]] = []
        self._tiny_groups: set[str] = set()  # groups whose last task took under TINY_TASK
        self._errors: list[tuple[Hashable, BaseException]] = []
        self._stopping = False
        self._lock = threading.Lock()
        self._pool = pool or shared_pool  # another pool: for tests and embedding
        self._active_loops = 0  # slices queued or running on the pool
        self._lanes = list(range(self.num_workers - 1, -1, -1))  # free worker numbers
        self._done = threading.Event()
        self._events = EventDispatcher(f"kernel_ext-events-{self.id}")
        self._slots: list[ProcessSlot] = []
        self._free_slots: list[ProcessSlot] = []
        self._running_slots: set[ProcessSlot] = set()
        self._batch_sizer = BatchSizer()  # processes: how many tasks travel together
        self._init_family(parent, parent_key, in_place, loop_order, replaces_task)
        self._client = client  # the dask backend's distributed.Client
        # Processes: where the worker slots come from (a cluster's threads: cluster_slots).
        self._slot_pool = slot_pool or _slot_pool
        self._cluster_run: Any = None  # kernel_ext.cluster_run.ClusterRun, on the dask backend

    # ----------------------------------------------------------------- public API

    def __repr__(self) -> str:
        done = self.counts[TaskState.FINISHED]
        return f"<Job {self.id} {self.status.value}: {done}/{self.task_count} tasks finished>"

    @property
    def counts(self) -> dict[TaskState, int]:
        """How many tasks are in each state (every state but RETRIED, an event only).

        A statement that fanned out counts as its iterations (see :meth:`expand`).
        """
        totals = dict.fromkeys(_COUNTED, 0)
        for counts in self.group_counts().values():
            for state, n in counts.items():
                totals[state] += n
        return totals

    def group_counts(self) -> dict[str, dict[TaskState, int]]:
        """Per group (in job order), how many tasks are in each state.

        Costs one small dict copy per group, whatever the number of tasks:
        live views poll it a few times a second instead of following an event
        per state change. Each group's counts add up to its size; across
        groups the snapshot may be a state change or two apart while the job
        runs (exact once it has ended).

        It is taken without the job's lock: a poller blocked on that lock made
        every release by the workers wake it (one futex call per task), which
        cost a 100,000-task job about 5% of its time. Copying a dict is atomic
        under the GIL; only a copy taken between the two steps of one state
        change is off (by one), and then the copy is taken again under the lock.
        """
        snapshot = {group: counts.copy() for group, counts in self._group_counts.items()}
        sizes = self._group_sizes
        if not all(sum(counts.values()) == sizes[group] for group, counts in snapshot.items()):
            with self._lock:
                snapshot = {group: counts.copy() for group, counts in self._group_counts.items()}
        return self._with_children(snapshot)

    def subscribe(self, observer: Observer, states: Iterable[TaskState] | None = None) -> None:
        """Call ``observer(events)`` with batches of events from now on, off the job's threads.

        ``states`` limits the events to those states (default: all); events in
        states no observer wants are never built. Subscribing an observer again
        changes its states.
        """
        self._events.subscribe(observer, states)

    def unsubscribe(self, observer: Observer) -> None:
        self._events.unsubscribe(observer)

    def add_done_callback(self, callback: Callable[[Job], None]) -> None:
        """Call ``callback(job)`` once the job has ended and its last event was delivered.

        Runs at once, in this thread, if that has already happened.
        """
        if self._parent is not None:
            raise RuntimeError("a child job has no done callbacks; wait() on it")
        if not self._events.add_done_callback(lambda: callback(self)):
            callback(self)

    def start(self) -> Job:
        """Start running. Returns at once, except on the ``sync`` backend."""
        with self._lock:
            if self.status is not JobStatus.PENDING:
                raise RuntimeError(f"{self.name} was already started")
            self.status = JobStatus.RUNNING
            self.started_at = time.monotonic()
            for i in range(len(self.keys)):
                if i in self._in_place:
                    self._set_state(i, TaskState.RUNNING)  # the caller runs it
                    self._attempts[i] = 1
                elif self._waiting[i] == 0:
                    self._make_ready(i)
            if not self.keys:
                self._finish_locked()
                return self
        if self._parent is not None:
            self._parent._adopt(self)
            return self
        if self.backend == "dask":
            self._start_on_cluster()
            return self
        if self.backend == "sync":
            self._active_loops = 1
            try:
                self._run_slice(inline=True)
            except KeyboardInterrupt:  # Ctrl-C in a task: the user stops the whole job
                self.cancel()
                raise
            return self
        with self._lock:
            if self.backend == "processes":
                self._slots = self._slot_pool.acquire(self.num_workers)
                self._free_slots = list(self._slots)
            self._spawn_locked(len(self._ready))
        return self

    def _start_on_cluster(self) -> None:
        """The dask backend: the whole graph goes to the cluster (kernel_ext.cluster_run)."""
        from kernel_ext.cluster_run import ClusterRun, connect

        try:
            client = connect(client=self._client)
            self.num_workers = max(1, sum(client.nthreads().values()))
            self._cluster_run = ClusterRun(self, client)
            self._cluster_run.start()
        except BaseException:
            self.cancel()
            raise

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds); True if it has ended.

        Waits in short slices so that Ctrl-C reaches the caller promptly; on
        KeyboardInterrupt the job is cancelled and the interrupt re-raised.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        # A child job's tasks run only in its parent's slices: its waiter helps, always.
        helping = self._parent is not None or (
            self._pool.in_pool_thread() and self.backend != "sync")
        try:
            while not self._done.is_set():
                remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if remaining <= 0:
                    return False
                # A pool thread waiting on a job (a fan-out inside a statement) runs that
                # job's ready tasks itself instead of idling: nested jobs then need no
                # extra threads, and cannot deadlock a busy pool.
                if not (helping and self._help()):
                    self._done.wait(min(remaining, 0.01) if helping else remaining)
        except KeyboardInterrupt:
            self.cancel()
            raise
        return True

    def result(self, timeout: float | None = None) -> Any:
        """Wait, then return the outputs in the requested shape, or raise the first error."""
        if not self.wait(timeout):
            raise TimeoutError(f"{self.name} did not finish within {timeout} s")
        if self._errors:
            raise self._errors[0][1]
        if self.status is JobStatus.CANCELLED:
            raise JobCancelledError(f"{self.name} was cancelled before it finished")
        return _shape(self.outputs, lambda key: self._results[self._index[key]])

    def exception(self) -> BaseException | None:
        """The first task error, or None."""
        return self._errors[0][1] if self._errors else None

    @property
    def errors(self) -> list[tuple[Hashable, BaseException]]:
        """Every task failure, in the order they happened, as (key, exception)."""
        return list(self._errors)

    @property
    def results(self) -> dict[Hashable, Any]:
        """Values of the finished output keys (complete or not, failed job or not)."""
        with self._lock:
            return {
                key: self._results[i]
                for i, key in enumerate(self.keys)
                if self._is_output[i] and self._states[i] is TaskState.FINISHED
            }

    def state_of(self, key: Hashable) -> TaskState:
        return self._states[self._index[key]]

    def states(self) -> dict[Hashable, TaskState]:
        """A snapshot of every task's state, for views that join late.

        Taken without the job's lock, like :meth:`group_counts`: each state
        is one list item, and copying the list is atomic under the GIL.
        """
        return dict(zip(self.keys, self._states.copy(), strict=True))

    def group_of(self, key: Hashable) -> str:
        return self._groups[self._index[key]]

    def structure(self) -> tuple[list[str], list[list[int]]]:
        """Tasks by number (the order of ``keys``): each one's group, each one's dependents.

        The job's own lists, not copies (they never change): read them, never
        modify them. For views that lay out big graphs without hashing keys.
        """
        return self._groups, self._dependents

    def show(self, progress: bool = True, stream: bool = False, graph: bool = False) -> None:
        """Display live views of this job in the cell (see :func:`kernel_ext.views.show_views`)."""
        from kernel_ext.views import display_views  # lazy: the engine imports no widgets

        display_views(self, progress=progress, stream=stream, graph=graph)

    def cancel(self) -> None:
        """Stop dispatching, cancel queued work and kill running process tasks.

        Returns at once. Tasks running on threads cannot be stopped; they
        finish in the background and their results are dropped.
        """
        with self._lock:
            if self._done.is_set():
                return
            self._stopping = True
            was_pending = self.status is JobStatus.PENDING
            self.status = JobStatus.CANCELLED
            self._ready.clear()
            self._cancel_unfinished_locked(include_running=False)
            running = list(self._running_slots)
            if was_pending:
                self.started_at = time.monotonic()
            children = list(self._children)
        if self._cluster_run is not None:
            self._cluster_run.cancel()
        for slot in running:
            slot.kill()
        for child in children:
            child.cancel()
        with self._lock:
            self._finish_locked()

    def expect_duration(self, group: str, seconds: float) -> None:
        """Tasks of ``group`` take about ``seconds`` each, as measured before this job
        (a loop's first iterations, run in place): worker processes get them in
        batches from the start instead of one by one until they are measured."""
        with self._lock:
            self._batch_sizer.expect(group, seconds)

    # ------------------------------------------------------------------ internals

    def _emit(self, i: int, state: TaskState, worker: str | None = None,
              start: float | None = None, end: float | None = None,
              error: BaseException | None = None) -> None:
        self._events.push(make_event((self.id, self.keys[i], self._groups[i], state, worker,
                                      start, end, self._attempts[i] or 1, error)))

    def _set_state(self, i: int, state: TaskState) -> None:
        counts = self._counts_of[i]
        counts[self._states[i]] -= 1
        counts[state] += 1
        self._states[i] = state

    def _make_ready(self, i: int) -> None:
        self._set_state(i, TaskState.QUEUED)
        heapq.heappush(self._ready, i)
        if TaskState.QUEUED in self._events.wanted:
            self._emit(i, TaskState.QUEUED)

    def _task_finished(self, i: int, value: Any, worker: str, start: float, end: float) -> None:
        self._set_state(i, TaskState.FINISHED)
        self._unresolved -= 1
        if TaskState.FINISHED in self._events.wanted:
            self._emit(i, TaskState.FINISHED, worker, start, end)
        if self._consumers[i] or self._is_output[i]:
            self._results[i] = value
        # Release inputs that no one else needs.
        results, consumers, is_output = self._results, self._consumers, self._is_output
        for dep_key in self.graph.dependencies[self.keys[i]]:
            d = self._index[dep_key]
            consumers[d] -= 1
            if consumers[d] == 0 and not is_output[d]:
                results[d] = _RELEASED
        newly_ready = 0
        waiting = self._waiting
        for dependent in self._dependents[i]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0 and self._states[dependent] is TaskState.WAITING:
                self._make_ready(dependent)
                newly_ready += 1
        if newly_ready > 1 and self.backend != "sync":
            self._spawn_locked(len(self._ready) - 1)  # this slice takes one itself

    def _task_failed(self, i: int, error: BaseException, worker: str,
                     start: float, end: float) -> None:
        if self._attempts[i] <= self.retries:
            if TaskState.RETRIED in self._events.wanted:
                self._emit(i, TaskState.RETRIED, worker, start, end, error)
            self._make_ready(i)
            return
        _name_task_in(error, self.keys[i])
        self._errors.append((self.keys[i], error))
        self._set_state(i, TaskState.FAILED)
        self._unresolved -= 1
        if TaskState.FAILED in self._events.wanted:
            self._emit(i, TaskState.FAILED, worker, start, end, error)
        if self._loop_order:
            self._cancel_queued_after(i)
        if self.keep_going:
            self._skip_dependents(i)
        else:
            self._stopping = True
            self._ready.clear()

    def _skip_dependents(self, i: int) -> None:
        stack = list(self._dependents[i])
        while stack:
            j = stack.pop()
            if self._states[j] is TaskState.WAITING:
                self._set_state(j, TaskState.SKIPPED)
                self._unresolved -= 1
                if TaskState.SKIPPED in self._events.wanted:
                    self._emit(j, TaskState.SKIPPED)
                stack.extend(self._dependents[j])

    def _cancel_unfinished_locked(self, include_running: bool) -> None:
        for i, state in enumerate(self._states):
            if state in FINAL_STATES or (state is TaskState.RUNNING and not include_running):
                continue
            self._set_state(i, TaskState.CANCELLED)
            self._unresolved -= 1
            if TaskState.CANCELLED in self._events.wanted:
                self._emit(i, TaskState.CANCELLED, end=time.monotonic())

    def _finish_locked(self) -> None:
        """End the job once: settle states and status, return slots, close events."""
        if self._done.is_set():
            return
        cancelled = self.status is JobStatus.CANCELLED
        if cancelled:
            self._cancel_unfinished_locked(include_running=True)
        else:
            self._cancel_unfinished_locked(include_running=False)
            self.status = JobStatus.FAILED if self._errors else JobStatus.FINISHED
        # Results of tasks that are not outputs are no longer needed by anyone.
        for i in range(len(self._results)):
            if not self._is_output[i]:
                self._results[i] = _RELEASED
        self.ended_at = time.monotonic()
        if self._slots:
            self._slot_pool.release(self._slots)
            self._slots = []
        self._done.set()
        if self._parent is None:  # a child's events are its parent's, which closes them
            self._events.close()


_TASK_NOTE = "(raised by kernel_ext task {key!r})"


def _name_task_in(error: BaseException, key: Hashable) -> None:
    """Add which task raised to the exception's notes, once."""
    note = _TASK_NOTE.format(key=key)
    notes = getattr(error, "__notes__", None) or []
    if note not in notes:
        with contextlib.suppress(Exception):  # an exception type that refuses attributes
            error.add_note(note)


def drop_task_notes(error: BaseException) -> None:
    """Remove the notes naming kernel_ext tasks, for errors shown as the user's own code's."""
    notes = getattr(error, "__notes__", None)
    if notes:
        prefix = _TASK_NOTE.split("{", 1)[0]
        notes[:] = [n for n in notes if not n.startswith(prefix)]
        if not notes:
            del error.__notes__


def _flatten_keys(outputs: Any) -> Iterator[Hashable]:
    if isinstance(outputs, list):
        for item in outputs:
            yield from _flatten_keys(item)
    else:
        yield outputs


def _shape(outputs: Any, value_of: Callable[[Hashable], Any]) -> Any:
    """Values in the shape of ``outputs``; a list of keys gives a tuple, as Dask's ``get``."""
    if isinstance(outputs, list):
        return tuple(_shape(item, value_of) for item in outputs)
    return value_of(outputs)


__all__ = ["Job", "JobStatus", "default_workers"]
