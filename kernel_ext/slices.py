"""How a job's tasks get run: slices on the shared thread pool, in batches or one by one.

A *slice* (see :mod:`kernel_ext.scheduler`) takes ready tasks under the job's
lock, runs them outside it and records them under it again. This mixin holds
that loop; the job's state and bookkeeping (``_record``, ``_make_ready``,
``_finish_locked``...) are :class:`kernel_ext.scheduler.Job`'s.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import threading
import time
from collections.abc import Hashable
from typing import Any

from kernel_ext.events import TaskState
from kernel_ext.graph import resolve
from kernel_ext.process_batches import claim_batch, run_batches
from kernel_ext.process_pool import CancelledInWorker, ProcessSlot
from kernel_ext.thread_pool import QUANTUM

#: A worker takes ready tasks in batches of up to MAX_BATCH while each takes less than
#: TINY_TASK seconds (see SliceRunner._run_batches); otherwise one at a time.
TINY_TASK = 50e-6
MAX_BATCH = 32


class SliceRunner:
    """The slice loop of :class:`kernel_ext.scheduler.Job` (a mixin: the state is the job's)."""

    def _help(self) -> bool:
        """Run one slice of this job on the calling thread, if it has ready work."""
        if self._parent is not None:  # a statement waiting on its iterations runs them
            return self._run_as_guest(self._parent._slot_of_this_thread(), None)
        if self.backend == "dask":
            return False  # its tasks run on the cluster
        with self._lock:
            if self._stopping or not self._ready or self._done.is_set():
                return False
            if self.backend == "processes" and not self._free_slots:
                return False  # every worker process is busy; tasks must not run here
            self._active_loops += 1
        self._run_slice(requeue=False)
        return True

    def _spawn_locked(self, wanted: int) -> None:
        """Queue up to ``wanted`` more slices, never more than ``num_workers`` at once."""
        if self._parent is not None or self.backend == "dask":
            return  # a child's tasks run in its parent's slices; a dask job's on the cluster
        for _ in range(min(wanted, self.num_workers - self._active_loops)):
            self._active_loops += 1
            self._pool.submit(self._run_slice)

    def _run_slice(self, inline: bool = False, requeue: bool = True) -> None:
        """Run ready tasks on this thread until none is ready or the quantum is used.

        A slice that used up its quantum while work remains goes to the back of
        the pool's queue (unless ``requeue`` is false: a waiter helping out).
        ``inline`` (the sync backend) runs to the end here.
        """
        lock = self._lock
        thread = threading.current_thread()
        own_name = thread.name
        lock.acquire()
        lane = self._lanes.pop() if self._lanes else 0
        slot = self._free_slots.pop() if self._free_slots else None
        self._thread_slots[threading.get_ident()] = slot  # for a child's waiter here
        if not inline:
            thread.name = f"kernel_ext-{self.id}-worker-{lane}"
        worker = thread.name if slot is None else None
        deadline = None if inline else time.monotonic() + QUANTUM
        used_quantum = False
        try:
            if slot is None:
                used_quantum = self._run_batches(worker, deadline)
            else:
                used_quantum = self._run_one_by_one(slot, deadline)
        finally:
            self._lanes.append(lane)
            self._thread_slots.pop(threading.get_ident(), None)
            if slot is not None:
                self._free_slots.append(slot)
            if not inline:
                thread.name = own_name
            if used_quantum and requeue and not self._stopping:
                self._pool.submit(self._run_slice)
            else:
                self._active_loops -= 1
            self._finish_if_ended_locked()
            lock.release()

    def _run_batches(self, worker: str | None, deadline: float | None) -> bool:
        """Run ready tasks on this thread, several per turn of the lock while they are tiny.

        Called and returns with the lock held. Taking and recording one task at
        a time made two workers on tasks of a few microseconds pass the lock
        (and the GIL) back and forth on every task, slower than one worker. So
        a turn takes up to ``batch`` ready tasks (the best first), runs them
        outside the lock, then records them all. Only tasks of groups whose
        last task took under ``TINY_TASK`` are batched; any other task is taken
        alone, after the batch before it is recorded, so a long task never
        holds back the results of tiny ones. ``batch`` doubles (to
        ``MAX_BATCH``) while all its tasks are tiny and drops to 1 when one is not.

        A claimed task that has not started is still anyone's: a worker with
        nothing ready takes it from the batch's far end (a tiny group's one
        slow task does not hold up the rest), and a slice ends only when
        nothing is ready or claimed. A task that fails, or a job that stops,
        ends the batch: its unstarted tasks go back to the ready queue.
        True if the quantum was used up with work remaining.
        """
        lock, ready, states, groups = self._lock, self._ready, self._states, self._groups
        tiny_groups = self._tiny_groups
        batch = 1
        while True:
            if self._stopping:
                return False
            if deadline is not None and time.monotonic() >= deadline and self._has_work():
                return True
            if ready:
                claimed = collections.deque((heapq.heappop(ready),))
                if groups[claimed[0]] in tiny_groups:
                    while len(claimed) < batch and ready and groups[ready[0]] in tiny_groups:
                        claimed.append(heapq.heappop(ready))
                for i in claimed:
                    self._set_state(i, TaskState.RUNNING)
                    self._attempts[i] += 1
            else:
                stolen = self._steal()
                if stolen is None:
                    if self._run_a_child(None, deadline):
                        continue
                    return False
                claimed = collections.deque((stolen,))
            taken = len(claimed)
            self._claimed.append(claimed)
            lock.release()
            ran: list[tuple[int, Any]] = []
            interrupt: KeyboardInterrupt | None = None
            try:
                self._run_claimed(claimed, worker, ran)
            except KeyboardInterrupt as exc:  # sync backend: the tasks before it still count
                interrupt = exc
            finally:
                lock.acquire()
                self._claimed[:] = [c for c in self._claimed if c is not claimed]
            all_tiny = len(ran) == taken
            for i, outcome in ran:
                if outcome[4] - outcome[3] < TINY_TASK:
                    tiny_groups.add(groups[i])
                else:
                    tiny_groups.discard(groups[i])
                    all_tiny = False
                if states[i] is TaskState.RUNNING:  # else cancelled meanwhile: dropped
                    self._record(i, *outcome)
            for i in claimed:  # not started: back to the ready queue
                if states[i] is TaskState.RUNNING:
                    self._attempts[i] -= 1
                    self._set_state(i, TaskState.QUEUED)
                    if not self._stopping:
                        heapq.heappush(ready, i)
            if len(ready) > 1 and self.backend != "sync":
                self._spawn_locked(len(ready) - 1)  # a batch's results made several ready
            ran.clear()  # the values are not kept past their recording
            if interrupt is not None:
                raise interrupt  # the interrupted task is still running: start() cancels
            batch = min(batch * 2, MAX_BATCH) if all_tiny else 1

    def _run_claimed(self, claimed: collections.deque[int], worker: str | None,
                     ran: list[tuple[int, Any]]) -> None:
        """Run claimed tasks in order until none is left (others may take some), one
        fails, or the job stops; (task, outcome) of each that ran goes to ``ran``."""
        tasks = self._tasks
        while not (ran and self._stopping):
            try:
                i = claimed.popleft()  # atomic: a thief may pop the other end
            except IndexError:
                break
            outcome = self._run_task(i, tasks[i], None, worker)
            ran.append((i, outcome))
            if outcome[1] is not None:
                break  # a failure is recorded before anything else starts

    def _steal(self) -> int | None:
        """An unstarted task claimed by another worker's batch (with the lock held), or None."""
        for claimed in self._claimed:
            try:
                return claimed.pop()
            except IndexError:
                continue  # its owner started the last one meanwhile
        return None

    def _may_run_on(self) -> bool:
        """Past its quantum, may a slice keep feeding a worker process this job's batches?
        Yes while no other slice waits for a pool thread and, for a loop's iterations,
        the cell's job has no statement ready to take the worker."""
        if self._pool.has_waiting():
            return False
        return self._parent is None or not self._parent._ready

    def _has_work(self) -> bool:
        return bool(self._ready) or any(self._claimed) or self._child_with_work() is not None

    def _run_one_by_one(self, slot: ProcessSlot, deadline: float | None) -> bool:
        """Run ready tasks one per turn of the lock, remote ones in ``slot``'s process.

        Called and returns with the lock held. True if the quantum was used up
        with work remaining.
        """
        lock, ready, tasks = self._lock, self._ready, self._tasks
        while True:
            if self._stopping:
                return False
            if deadline is not None and time.monotonic() >= deadline and self._has_work():
                return True
            if not ready:
                if self._run_a_child(slot, deadline):
                    continue
                return False
            i = heapq.heappop(ready)
            task = tasks[i]
            remote = not task.local
            claimed = claim_batch(self, i) if remote else [i]
            # A worker runs a batch's tasks one after the other: the first is RUNNING,
            # the others stay QUEUED until the batch comes back (views say "2 running").
            self._set_state(i, TaskState.RUNNING)
            for j in claimed:
                self._attempts[j] += 1
            if len(claimed) > 1:  # short tasks: one round trip for all
                slot.arm()
                self._running_slots.add(slot)
                with contextlib.suppress(CancelledInWorker):
                    run_batches(self, claimed, slot, deadline)
                self._running_slots.discard(slot)
                continue
            if remote:
                slot.arm()
                self._running_slots.add(slot)
            lock.release()
            try:
                outcome = self._run_task(i, task, slot if remote else None, None)
            except CancelledInWorker:
                lock.acquire()
                self._running_slots.discard(slot)
                continue
            lock.acquire()
            if remote:
                self._running_slots.discard(slot)
            if remote and outcome[1] is None:
                self._batch_sizer.measured(self._groups[i], outcome[4] - outcome[3])
            if self._states[i] is TaskState.RUNNING:  # else cancelled meanwhile: dropped
                self._record(i, *outcome)
            del outcome  # the value is not kept past its recording

    def _record(self, i: int, value: Any, error: BaseException | None, where: str,
                start: float, end: float) -> None:
        """Record how running task ``i`` ended (with the lock held)."""
        if error is None:
            self._task_finished(i, value, where, start, end)
        else:
            self._task_failed(i, error, where, start, end)

    def _run_task(
        self, i: int, task: Any, slot: ProcessSlot | None, worker: str | None
    ) -> tuple[Any, BaseException | None, str, float, float]:
        """Run one task outside the lock: (value, error, worker, start, end).

        Building the arguments (nested calls) counts as part of the task. The
        inputs stay alive until it ends: their consumer counts include it.
        """
        start = time.monotonic()
        where = worker or threading.current_thread().name
        try:
            args, kwargs = self._call_arguments(i, task)
            if slot is not None:
                on_start = None
                if TaskState.RUNNING in self._events.wanted:

                    def on_start(name: str) -> None:
                        nonlocal where
                        where = name
                        self._emit(i, TaskState.RUNNING, name, time.monotonic())

                value, where, start, end = slot.run(self.keys[i], task.func, args, kwargs, on_start)
                return value, None, where, start, end
            if TaskState.RUNNING in self._events.wanted:
                self._emit(i, TaskState.RUNNING, where, start)
            value = task.func(*args, **kwargs)
            return value, None, where, start, time.monotonic()
        except CancelledInWorker:
            raise
        except KeyboardInterrupt as exc:
            if threading.current_thread() is threading.main_thread():
                raise  # Ctrl-C while the sync backend ran this task: the caller cancels
            return None, exc, where, start, time.monotonic()
        except BaseException as exc:  # noqa: BLE001 - the task's failure, recorded by the caller
            return None, exc, where, start, time.monotonic()

    def _call_arguments(self, i: int, task: Any) -> tuple[Any, Any]:
        """Task ``i``'s arguments, with the results of its dependencies put in."""
        if self._needs_resolving[i]:  # arguments first: nested calls run in their order
            args = resolve(task.args, self._lookup)
            return args, resolve(task.kwargs, self._lookup) if task.kwargs else {}
        return task.args, task.kwargs or {}

    def _lookup(self, key: Hashable) -> Any:
        return self._results[self._index[key]]
