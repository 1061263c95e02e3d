"""Tasks sent to a worker process in batches: one round trip for many short tasks.

A round trip to a loky worker costs a few hundred microseconds (pickling, two
pipe crossings, a future), far more than a tiny task. So a slice sends the
ready remote tasks of groups known to be short together, sized from their
measured durations: about ``BATCH_SECONDS`` of work per trip, never more than
``MAX_BATCH`` tasks, and never more than a fair share of what is ready (so
the other workers get some). A task of a group not measured yet, or a long
one, travels alone.

The worker runs the batch's tasks in order and sends back each one's value
(or error) with its own start and end, so progress and the task stream still
show every task. A cancel kills the process as for a single task. When a
batch's process dies, or the batch cannot be sent, nobody can tell which task
was to blame: its tasks go back to the ready queue, their group is sent one
by one from then on, and only the task that is really at fault fails.
"""

from __future__ import annotations

import heapq
import math
import time
from typing import Any

from kernel_ext.events import TaskState
from kernel_ext.process_pool import CancelledInWorker, ProcessSlot

BATCH_SECONDS = 0.05  # work per round trip: progress stays live, the trip costs about 1%
MAX_BATCH = 256
_SMOOTHING = 0.3  # weight of the newest duration in a group's running mean


class BatchSizer:
    """Per group: the running mean of its remote tasks' durations, and the batch size."""

    def __init__(self) -> None:
        self._mean: dict[str, float] = {}
        self._alone: set[str] = set()  # groups whose batch failed as a whole: one by one

    def size(self, group: str, ready: int, workers: int) -> int:
        mean = self._mean.get(group)
        if mean is None or group in self._alone:
            return 1
        fair = math.ceil(ready / max(workers, 1))
        return max(1, min(MAX_BATCH, fair, int(BATCH_SECONDS / max(mean, 1e-6))))

    def measured(self, group: str, seconds: float) -> None:
        mean = self._mean.get(group)
        self._mean[group] = seconds if mean is None else (
            _SMOOTHING * seconds + (1 - _SMOOTHING) * mean)

    def send_alone(self, group: str) -> None:
        self._alone.add(group)


def claim_batch(job: Any, first: int) -> list[int]:
    """With the job's lock held: ``first`` (just taken from the ready queue, remote) and
    the ready remote tasks after it that may travel with it."""
    ready, tasks, groups = job._ready, job._tasks, job._groups
    size = job._batch_sizer.size(groups[first], len(ready) + 1, job.num_workers)
    claimed = [first]
    while len(claimed) < size and ready:
        nxt = ready[0]
        if tasks[nxt].local or job._batch_sizer.size(groups[nxt], len(ready), 1) <= 1:
            break
        claimed.append(heapq.heappop(ready))
    return claimed


def run_batch(job: Any, claimed: list[int], slot: ProcessSlot) -> None:
    """Run the claimed tasks (already RUNNING, slot armed) in ``slot``'s process and
    record them. Called with the job's lock held, which it releases while they run.

    Raises :class:`CancelledInWorker` (lock held again) if a cancel killed the process.
    """
    lock = job._lock
    keys = [job.keys[i] for i in claimed]
    lock.release()
    calls: list[tuple[Any, ...]] = []
    unresolvable: dict[int, BaseException] = {}
    for i in claimed:
        task = job._tasks[i]
        try:
            args, kwargs = job._call_arguments(i, task)
        except BaseException as exc:  # noqa: BLE001 - building the call is part of the task
            unresolvable[i] = exc
            args, kwargs = (), {}
        calls.append((task.func, args, kwargs))
    on_start = None
    if TaskState.RUNNING in job._events.wanted:

        def on_start(name: str) -> None:
            job._emit(claimed[0], TaskState.RUNNING, name, time.monotonic())

    try:
        outcomes, where = slot.run_batch(keys, calls, on_start)
    except CancelledInWorker:
        lock.acquire()
        raise
    except Exception:  # noqa: BLE001 - a dead process or a batch that cannot travel
        lock.acquire()
        _send_back(job, claimed)
        return
    lock.acquire()
    sizer = job._batch_sizer
    for i, (value, error, start, end) in zip(claimed, outcomes, strict=True):
        if i in unresolvable:
            value, error = None, unresolvable[i]
        sizer.measured(job._groups[i], end - start)
        _record(job, i, value, error, where, start, end)


def _record(job: Any, i: int, value: Any, error: BaseException | None, where: str,
            start: float, end: float) -> None:
    state = job._states[i]
    if state is TaskState.QUEUED:  # a batch's later task: it ran after the first
        job._set_state(i, TaskState.RUNNING)
    elif state is not TaskState.RUNNING:  # cancelled meanwhile: dropped
        return
    job._record(i, value, error, where, start, end)


def _send_back(job: Any, claimed: list[int]) -> None:
    """A batch failed as a whole: its tasks are ready again, their groups go one by one."""
    for i in claimed:
        job._batch_sizer.send_alone(job._groups[i])
        if job._states[i] in (TaskState.RUNNING, TaskState.QUEUED):
            job._attempts[i] -= 1
            job._set_state(i, TaskState.QUEUED)
            if not job._stopping:
                heapq.heappush(job._ready, i)
