"""Tasks sent to a worker process in batches: one round trip for many short tasks.

A round trip to a loky worker costs a few hundred microseconds (pickling, two
pipe crossings, a future), far more than a tiny task. So a slice sends the
ready remote tasks of groups known to be short together, sized from their
measured durations: about ``BATCH_SECONDS`` of work per trip, never more than
``MAX_BATCH`` tasks, and never more than a fair share of what is ready (so
the other workers get some). A task of a group not measured yet, or a long
one, travels alone. (A loop's iterations are measured by those it ran in
place first: ``Job.expect_duration``.)

While a batch runs, the next one is already sent to the same process
(:func:`run_batches`), so the worker goes on without waiting for a round trip
through the kernel. A fair share is half a worker's part of what is ready: each
worker may hold two batches, and they all end about together.

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
from dataclasses import dataclass
from typing import Any

from kernel_ext.events import TaskState
from kernel_ext.process_pool import CancelledInWorker, ProcessSlot, SentBatch

BATCH_SECONDS = 0.2  # work per round trip: progress moves 5 times a second per worker,
# and each trip (two pickles through loky, ~1 ms of a busy worker's time) costs about 0.5%
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
        # Each worker may hold two batches (one running, one sent behind it): a fair
        # share is half of its part of what is ready, so all end about together.
        fair = math.ceil(ready / (2 * max(workers, 1)))
        return max(1, min(MAX_BATCH, fair, int(BATCH_SECONDS / max(mean, 1e-6))))

    def measured(self, group: str, seconds: float) -> None:
        mean = self._mean.get(group)
        self._mean[group] = seconds if mean is None else (
            _SMOOTHING * seconds + (1 - _SMOOTHING) * mean)

    def expect(self, group: str, seconds: float) -> None:
        """The group's tasks were measured elsewhere (a loop's iterations run in place):
        batch them from the first, if no run of them here has been measured yet."""
        self._mean.setdefault(group, seconds)

    def send_alone(self, group: str) -> None:
        self._alone.add(group)


def claim_batch(job: Any, first: int) -> list[int]:
    """With the job's lock held: ``first`` (just taken from the ready queue, remote) and
    the ready remote tasks after it that may travel with it."""
    ready, tasks, groups = job._ready, job._tasks, job._groups
    size = job._batch_sizer.size(groups[first], len(ready) + 1, job.num_workers)
    claimed = [first]
    batched = {groups[first]}  # groups known to travel in batches (asked once each)
    while len(claimed) < size and ready:
        nxt = ready[0]
        if tasks[nxt].local:
            break
        if groups[nxt] not in batched or len(ready) <= 2:  # (the last few: a fair share)
            if job._batch_sizer.size(groups[nxt], len(ready), 1) <= 1:
                break
            batched.add(groups[nxt])
        claimed.append(heapq.heappop(ready))
    return claimed


def run_batches(job: Any, claimed: list[int], slot: ProcessSlot,
                deadline: float | None) -> None:
    """Run the claimed tasks (the first RUNNING, slot armed) in ``slot``'s process and
    record them; meanwhile keep the process fed. Called with the job's lock held,
    which it releases while batches run.

    While a batch runs, the next batch of short ready tasks is already sent to
    the same process, which starts it the moment the first ends instead of
    idling through a round trip to the kernel (about 1 ms a batch, 4% of the
    work on 2 ms tasks). Only one batch waits behind the running one, so a
    worker never holds more than two batches' worth of ready work.

    Raises :class:`CancelledInWorker` (lock held again) if a cancel killed the process.
    """
    sent: _Sent | None = _send(job, claimed, slot)
    while sent is not None:
        following = _next_batch(job, deadline)
        after = _send(job, following, slot) if following else None
        _collect(job, sent, slot)
        if after is not None and job._states[after.claimed[0]] is TaskState.QUEUED:
            first = after.claimed[0]  # it started when the batch before it ended
            job._set_state(first, TaskState.RUNNING)
            if TaskState.RUNNING in job._events.wanted:
                job._emit(first, TaskState.RUNNING, after.batch.worker, time.monotonic())
        sent = after


def _next_batch(job: Any, deadline: float | None) -> list[int] | None:
    """With the lock held: claim the next batch to send behind the running one, if the
    best ready task is remote and short and the slice has time left."""
    ready = job._ready
    if job._stopping or not ready:
        return None
    if deadline is not None and time.monotonic() >= deadline and not job._may_run_on():
        return None
    first = ready[0]
    if job._tasks[first].local or job._batch_sizer.size(
            job._groups[first], len(ready), job.num_workers) <= 1:
        return None
    heapq.heappop(ready)
    claimed = claim_batch(job, first)
    for i in claimed:
        job._attempts[i] += 1
    return claimed


@dataclass
class _Sent:
    claimed: list[int]
    batch: SentBatch
    unresolvable: dict[int, BaseException]  # tasks whose arguments could not be built


def _send(job: Any, claimed: list[int], slot: ProcessSlot) -> _Sent | None:
    """Send the claimed tasks to the slot (the lock is released meanwhile); None, with
    the tasks sent back to the ready queue, if the process is gone."""
    lock = job._lock
    keys = [job.keys[i] for i in claimed]
    lock.release()
    calls: list[tuple[Any, ...]] = []
    unresolvable: dict[int, BaseException] = {}
    try:
        for i in claimed:
            task = job._tasks[i]
            try:
                args, kwargs = job._call_arguments(i, task)
                calls.append((task.func, args, kwargs))
            except BaseException as exc:  # noqa: BLE001 - building the call is part of the task
                unresolvable[i] = exc
                calls.append((_nothing, (), {}))
        sent = slot.send_batch(keys, calls)
    except CancelledInWorker:
        lock.acquire()
        raise
    except Exception:  # noqa: BLE001 - the process died before the batch was sent
        lock.acquire()
        _send_back(job, claimed)
        return None
    lock.acquire()
    return _Sent(claimed, sent, unresolvable)


def _collect(job: Any, sent: _Sent, slot: ProcessSlot) -> None:
    """Wait (lock released) for a sent batch and record its tasks."""
    lock, claimed = job._lock, sent.claimed
    lock.release()
    try:
        outcomes, where = slot.collect_batch(sent.batch)
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
        if i in sent.unresolvable:
            value, error = None, sent.unresolvable[i]
        sizer.measured(job._groups[i], end - start)
        _record(job, i, value, error, where, start, end)


def _nothing() -> None:
    """Stands in for a task whose arguments could not be built (it fails in the kernel)."""


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
