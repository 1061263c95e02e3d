"""Child jobs: tasks that a running task adds to its own job (a loop's iterations).

A ``%%parallel`` statement that fans out learns only while it runs how many
iterations it has, and whether they are worth running apart. It then starts
a *child job* of the cell's job (``Job(..., parent=cell_job, parent_key=its
key)``) whose tasks are its iterations. The child has no slices of its own:

- its tasks run in the parent's slices, which take them when the parent has
  nothing ready of its own, and in the thread of the statement that waits on
  it (``Job.wait`` helps). So ``num_workers`` bounds everything the cell runs
  at once: the waiting statement holds one worker and runs iterations in it;
- its events go to the parent's observers, with the statement's group, on the
  lanes of the parent's workers: views show each iteration;
- the parent's counts show the statement's group as the iterations
  (``17/40``) instead of the one statement: ``group_counts``, ``counts`` and
  ``task_count`` include the children.

Tasks the caller has already run, or runs itself (a loop's first iterations
run in place), are given as ``in_place``: they start RUNNING and the caller
reports them with :meth:`ChildJobs.record_in_place`. With ``loop_order``, a
failing task cancels the queued tasks after it (keys compare in loop order):
the plain loop would never have run them.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

from kernel_ext.events import TASK_STATES, TaskState

if TYPE_CHECKING:
    from kernel_ext.process_pool import ProcessSlot
    from kernel_ext.scheduler import Job

class ChildJobs:
    """Parent and child sides of :class:`kernel_ext.scheduler.Job` (a mixin)."""

    def _init_family(self: Any, parent: Job | None, parent_key: Hashable,
                     in_place: Iterable[Hashable], loop_order: bool,
                     replaces_task: bool = True) -> None:
        self._parent = parent
        # Whether the child's tasks count instead of its parent task (a loop's iterations)
        # or beside it (a Dask computation inside a statement: rows of their own).
        self._replaces_task = replaces_task
        self.parent_key = parent_key
        self._in_place = {self._index[key] for key in in_place}
        self._loop_order = loop_order
        self._children: list[Job] = []
        self._detached: list[dict[TaskState, int]] = []  # own tallies of fanned-out tasks
        self._thread_slots: dict[int, ProcessSlot | None] = {}  # slot of each running slice
        if parent is not None:
            self._events = parent._events

    # ------------------------------------------------------------------ both sides

    @property
    def task_count(self: Any) -> int:
        """How many tasks the job has, a fanned-out task counting as its children's tasks."""
        return sum(self._group_sizes.values()) + sum(c.task_count for c in list(self._children))

    def _with_children(self: Any, snapshot: dict[str, dict[TaskState, int]]
                       ) -> dict[str, dict[TaskState, int]]:
        for child in list(self._children):
            for group, counts in child.group_counts().items():
                mine = snapshot.get(group)
                if mine is None:
                    snapshot[group] = counts
                    continue
                for state, n in counts.items():
                    mine[state] += n
        return snapshot

    def _finish_if_ended_locked(self: Any) -> None:
        """End the job when nothing of its own runs and nothing more will.

        Slices still queued on a busy pool do not hold it open (a waiter may be
        occupying the pool).
        """
        running = sum(c[TaskState.RUNNING] for c in self._group_counts.values())
        running += sum(c[TaskState.RUNNING] for c in self._detached)
        if not running and (self._stopping or not self._unresolved):
            self._finish_locked()

    def describe(self: Any, job_id: int, key: Hashable) -> str:
        """What an event's task is, for hover texts: its ``meta['label']`` (a child's
        task: its own), else its key."""
        job = self if job_id == self.id else next(
            (c for c in list(self._children) if c.id == job_id), None)
        if job is None:
            return str(key)
        task = job.graph.tasks.get(key)
        label = task.meta.get("label") if task is not None and task.meta else None
        return str(label() if callable(label) else label or key)

    # ------------------------------------------------------------------ parent side

    def _adopt(self: Any, child: Job) -> None:
        """``child`` (started) runs in this job's slices; its counts replace its task's."""
        with self._lock:
            i = self._index[child.parent_key]
            self._children.append(child)
            if child._replaces_task and not self._is_detached(i):
                state = self._states[i]
                self._counts_of[i][state] -= 1
                self._group_sizes[self._groups[i]] -= 1
                own = dict.fromkeys(TASK_STATES, 0)
                own[state] = 1
                self._counts_of[i] = own
                self._detached.append(own)
            stopping = self._stopping
            if not stopping and self.backend != "sync":
                self._spawn_locked(len(child._ready))
        if stopping:
            child.cancel()

    def fanned_out(self: Any, job_id: int, key: Hashable) -> bool:
        """Whether an event's task counts as its child's tasks (a loop that fanned out:
        views draw its iterations, not the statement's own run)."""
        if job_id != self.id:
            return False
        i = self._index.get(key)
        return i is not None and self._is_detached(i)

    def _is_detached(self: Any, i: int) -> bool:
        """Task ``i`` fanned out: its own tally left its group's (see :meth:`_adopt`)."""
        return self._counts_of[i] is not self._group_counts[self._groups[i]]

    def _slot_of_this_thread(self: Any) -> ProcessSlot | None:
        return self._thread_slots.get(threading.get_ident())

    def _child_with_work(self: Any) -> Job | None:
        """A child with tasks ready (read without its lock: a hint, checked under it)."""
        for child in self._children:
            if not child._stopping and (child._ready or any(child._claimed)):
                return child
        return None

    def _run_a_child(self: Any, slot: ProcessSlot | None, deadline: float | None) -> bool:
        """With this job's lock held: run a child's ready tasks in this slice. True if any ran."""
        child = self._child_with_work()
        if child is None:
            return False
        self._lock.release()
        try:
            return bool(child._run_as_guest(slot, deadline))
        finally:
            self._lock.acquire()

    # ------------------------------------------------------------------- child side

    def _run_as_guest(self: Any, slot: ProcessSlot | None, deadline: float | None) -> bool:
        """Run this child's ready tasks on the calling thread (a parent's slice or the
        waiting statement), as the worker that thread is. True if it had any to run."""
        with self._lock:
            if self._stopping or self._done.is_set() or not (self._ready or any(self._claimed)):
                return False
            if self.backend == "processes" and slot is None:
                return False  # remote tasks need a worker process this thread holds
            worker = threading.current_thread().name
            try:
                if slot is None:
                    self._run_batches(worker, deadline)
                else:
                    self._run_one_by_one(slot, deadline)
            finally:
                self._finish_if_ended_locked()
        return True

    def record_in_place(self: Any, key: Hashable, start: float, end: float,
                        error: BaseException | None = None, worker: str | None = None) -> None:
        """Task ``key`` (given as ``in_place``) ran from ``start`` to ``end``
        (``time.monotonic()``) as ``worker`` (default: this thread), and raised
        ``error`` if not None."""
        with self._lock:
            i = self._index[key]
            if self._states[i] is not TaskState.RUNNING:
                return  # cancelled meanwhile
            self._record(i, None, error, worker or threading.current_thread().name, start, end)
            self._finish_if_ended_locked()

    def _cancel_queued_after(self: Any, i: int) -> None:
        """Task ``i`` failed in a ``loop_order`` job: cancel the queued tasks after it."""
        limit = self.keys[i]
        keep = []
        for j in self._ready:
            if self.keys[j] > limit:
                self._set_state(j, TaskState.CANCELLED)
                self._unresolved -= 1
                if TaskState.CANCELLED in self._events.wanted:
                    self._emit(j, TaskState.CANCELLED)
            else:
                keep.append(j)
        heapq.heapify(keep)
        self._ready[:] = keep
