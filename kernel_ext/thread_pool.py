"""The kernel's one bounded pool of threads, shared fairly by every running job.

Jobs do not own threads. A job asks for up to ``num_workers`` *slices*: a
slice runs the job's ready tasks for at most ``QUANTUM`` seconds, then goes to
the back of the pool's queue if the job still has ready work. So twenty
background jobs take turns on a fixed number of threads, and one large job
cannot starve the others, while a job alone on the pool keeps its threads
(re-queuing a slice into an empty queue costs microseconds).

A pool thread that waits on another job (a fan-out inside a ``%%parallel``
statement, ``kernel_ext.get`` inside a task) runs that job's ready tasks
itself while it waits (``Job.wait``), so nested jobs need no extra threads and
cannot deadlock the pool. Threads are daemons and stay for the kernel's life
once started.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Seconds a slice may run tasks before letting other jobs' slices go first.
QUANTUM = 0.05


def _default_max_threads() -> int:
    return max(64, 8 * (os.cpu_count() or 1))


class SharedThreadPool:
    """A FIFO of slices served by at most ``max_threads`` daemon threads."""

    def __init__(self, max_threads: int | None = None, name: str = "kernel_ext-pool") -> None:
        self.max_threads = max_threads or _default_max_threads()
        self._name = name
        self._queue: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._threads = 0  # started and alive
        self._idle = 0  # waiting for work
        self._local = threading.local()

    @property
    def thread_count(self) -> int:
        return self._threads

    @property
    def idle_count(self) -> int:
        """Threads waiting for a slice (the others run one)."""
        return self._idle

    def submit(self, slice_: Callable[[], None]) -> None:
        """Queue ``slice_`` to run on a pool thread, after the slices already queued."""
        with self._lock:
            self._queue.append(slice_)
            if self._idle:
                self._has_work.notify()
            elif self._threads < self.max_threads:
                self._start_thread_locked()

    def has_waiting(self) -> bool:
        """Whether slices wait in the queue for a thread (a slice past its quantum yields)."""
        return bool(self._queue)

    def in_pool_thread(self) -> bool:
        return getattr(self._local, "in_pool", False)

    def _start_thread_locked(self) -> None:
        self._threads += 1
        thread = threading.Thread(
            target=self._serve, name=f"{self._name}-{self._threads}", daemon=True
        )
        thread.start()

    def _serve(self) -> None:
        self._local.in_pool = True
        own_name = threading.current_thread().name
        while True:
            with self._lock:
                while not self._queue:
                    self._idle += 1
                    self._has_work.wait()
                    self._idle -= 1
                slice_ = self._queue.popleft()
            try:
                slice_()
            except BaseException:  # noqa: BLE001 - a slice's bug must not kill the pool thread
                log.exception("a kernel_ext job slice raised; the pool thread continues")
            finally:
                threading.current_thread().name = own_name
                # Not kept while waiting for the next slice: it holds its job, and a
                # finished job (100,000 tasks' structure) should go when its owner lets go.
                del slice_


#: The pool of this process. Jobs use it unless given another.
shared_pool = SharedThreadPool()
