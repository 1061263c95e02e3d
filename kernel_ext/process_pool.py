"""Worker processes for the ``processes`` backend.

Each worker is a *slot*: a loky executor with exactly one process. loky
pickles notebook functions, lambdas and closures with cloudpickle and starts
workers in a fresh interpreter (not a fork of the kernel), so it works the
same under every start method, Python 3.14's forkserver default included.

One process per executor is what makes failures precise: when a process dies
(``os._exit``, a segfault, the OOM killer), loky fails every task in flight on
that executor, and with one process that is exactly the task it ran. The slot
then starts a new executor; the other slots never notice. Cancelling a job
kills its slots' processes the same way.

Workers ignore SIGINT: the kernel's interrupt is sent to its whole process
group, and would otherwise kill every pool (see shared/KERNEL_NOTES.md).
Slots are kept between jobs, so only the first job pays for starting them.

Workers exit with their kernel, however it ends. A kernel killed alone
(SIGKILL from the out-of-memory killer, a segfault, ``os._exit``) runs no
cleanup, and its loky workers would otherwise live on, holding their memory
(and with them loky's and multiprocessing's resource trackers, which exit only
once every process holding their pipe has). So each worker starts a daemon
thread that waits on the kernel process (a pidfd on Linux, else polling the
parent pid) and calls ``os._exit`` when it ends. Linux's parent-death signal
is not used: it fires when the *thread* that started the worker exits, and
loky starts workers from whichever thread submits (and from its manager
thread). A worker inside a C call that holds the GIL exits when the call
returns.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import loky
from loky.process_executor import BrokenProcessPool

from kernel_ext import memory_guard
from kernel_ext.errors import NotSendableError, WorkerDiedError, WorkerMemoryError


class RemoteTraceback(Exception):
    """Carries the formatted traceback of an exception raised in a worker process.

    Set as ``__cause__`` of the re-raised exception, so the kernel shows the
    worker's frames above the kernel's own ("The above exception was the
    direct cause of...").
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text


class _Failure:
    """What a worker returns instead of raising: the exception and its traceback text."""

    def __init__(self, exc: BaseException, text: str) -> None:
        self.exc = exc
        self.text = text

    def error(self) -> BaseException:
        """The exception as the kernel raises it: the worker's traceback as its cause."""
        self.exc.__cause__ = RemoteTraceback(self.text)
        return self.exc


def batch_outcomes(
    outcomes: list[tuple[Any, float, float]], clock: Callable[[float], float] = float,
) -> list[tuple[Any, BaseException | None, float, float]]:
    """A batch's (value, start, end) from its worker as (value, error, start, end):
    a failure's exception rebuilt, the times put on the kernel's clock by ``clock``."""
    return [(None, value.error(), clock(start), clock(end)) if isinstance(value, _Failure)
            else (value, None, clock(start), clock(end)) for value, start, end in outcomes]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: Exit status of a worker that ends because its kernel ended.
KERNEL_GONE_EXIT = 70
#: Seconds between checks of the kernel where no pidfd can be waited on.
PARENT_POLL = 0.5


def _init_worker(kernel_pid: int) -> None:
    """Runs once in each new worker process, before its first task."""
    _ignore_sigint()
    exit_with(kernel_pid)


def exit_with(pid: int) -> threading.Thread:
    """End this process (``os._exit``) as soon as process ``pid`` ends, from a daemon thread.

    On Linux a pidfd of ``pid`` becomes readable when the process ends, zombie or
    reaped, whoever its parent. Elsewhere the thread polls: the parent pid while
    ``pid`` is this process's parent (a dead parent's children are reparented),
    else whether ``pid`` exists.
    """
    fd: int | None
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or a kernel older than 5.3
        fd = None
    if fd is None and not _exists(pid):
        os._exit(KERNEL_GONE_EXIT)
    thread = threading.Thread(
        target=_wait_then_exit, args=(pid, fd), name="kernel_ext-exit-with-kernel", daemon=True
    )
    thread.start()
    return thread


def _wait_then_exit(pid: int, fd: int | None) -> None:
    if fd is not None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll():
            pass
    elif os.getppid() == pid:
        while os.getppid() == pid:
            time.sleep(PARENT_POLL)
    else:
        while _exists(pid):
            time.sleep(PARENT_POLL)
    os._exit(KERNEL_GONE_EXIT)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_in_worker(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, int, float, float]:
    """Runs in the worker: call, time it, and bring failures back as data."""
    start = time.monotonic()
    try:
        value: Any = func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the kernel
        text = "".join(traceback.format_exception(exc))
        value = _Failure(exc, text)
        try:
            import cloudpickle

            cloudpickle.dumps(exc)
        except Exception:
            value = _Failure(RuntimeError(f"{type(exc).__name__}: {exc}"), text)
    return value, os.getpid(), start, time.monotonic()


def _run_batch_in_worker(
    calls: list[tuple[Callable[..., Any], tuple[Any, ...], Mapping[str, Any]]],
) -> tuple[list[tuple[Any, float, float]], int]:
    """Runs in the worker: each call in order, as :func:`_run_in_worker` runs one.

    A function may name a ``batch_context``: a context manager factory entered once
    around the batch (set-up its calls would otherwise each make and undo)."""
    outcomes = []
    with contextlib.ExitStack() as stack:
        entered: set[int] = set()
        for func, _args, _kwargs in calls:
            factory = getattr(func, "batch_context", None)
            if factory is not None and id(factory) not in entered:
                entered.add(id(factory))
                stack.enter_context(factory())
        for func, args, kwargs in calls:
            value, _pid, start, end = _run_in_worker(func, args, kwargs)
            outcomes.append((value, start, end))
    return outcomes, os.getpid()


@dataclass(frozen=True)
class SentBatch:
    """A batch on its way to (or running in) a slot's process."""

    keys: list[Any]
    future: Future[Any]
    executor: loky.ProcessPoolExecutor
    worker: str  # ``pid:<n>``, for the views


class CancelledInWorker(Exception):
    """Raised by :meth:`ProcessSlot.run` when the slot was killed by a cancel."""


_live_slots: weakref.WeakSet[ProcessSlot] = weakref.WeakSet()  # for worker_pids()
_live_slots_lock = threading.Lock()


def worker_pids() -> list[int]:
    """The pids of this kernel's worker processes (started, not yet discarded), in order."""
    with _live_slots_lock:
        slots = list(_live_slots)
    return sorted(pid for pid in (slot.pid for slot in slots) if pid is not None)


class ProcessSlot:
    """One worker process that runs one task at a time and can be killed alone."""

    def __init__(self) -> None:
        self._executor: loky.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._killed_by_cancel = False
        with _live_slots_lock:
            _live_slots.add(self)

    @property
    def pid(self) -> int | None:
        """The slot's process, once started (loky starts it with the first task)."""
        executor = self._executor
        return None if executor is None else _worker_pid(executor)

    def _get_executor(self) -> loky.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = loky.ProcessPoolExecutor(
                    max_workers=1, initializer=_init_worker, initargs=(os.getpid(),)
                )
            return self._executor

    def run(
        self,
        key: Any,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        on_start: Callable[[str], None] | None = None,
    ) -> tuple[Any, str, float, float]:
        """Run one call in the worker; returns (value, worker name, start, end).

        ``on_start(worker name)`` is called once the call is handed to the
        process, so a task can be reported running while it runs.

        Raises the task's own exception (with the worker's traceback as its
        cause), :class:`WorkerDiedError` if the process died, or
        :class:`CancelledInWorker` if :meth:`kill` stopped it (also when the
        kill came after :meth:`arm` but before the call was sent).
        """
        executor = self._get_executor()
        if self._killed_by_cancel:
            raise CancelledInWorker(key)
        running_in: int | None = None
        try:
            future = executor.submit(_run_in_worker, func, args, kwargs)
            running_in = _worker_pid(executor)
            memory_guard.watch()
            if on_start is not None:
                on_start(_worker_name(executor))
            value, pid, start, end = future.result()
        except BrokenProcessPool as exc:
            self._discard(executor)
            if self._killed_by_cancel:
                raise CancelledInWorker(key) from None
            raise _death(key, exc, _worker_pid(executor) if running_in is None
                         else running_in) from None
        except Exception as exc:
            if self._killed_by_cancel:
                self._discard(executor)
                raise CancelledInWorker(key) from None
            error = _not_sendable(key, exc)
            if error is exc:
                raise
            raise error from exc
        if isinstance(value, _Failure):
            raise value.error()
        return value, f"pid:{pid}", start, end

    def send_batch(
        self,
        keys: list[Any],
        calls: list[tuple[Callable[..., Any], tuple[Any, ...], Mapping[str, Any]]],
    ) -> SentBatch:
        """Queue several calls for the worker, to run in one round trip (see
        :mod:`kernel_ext.process_batches`). A second batch may be sent before the
        first comes back: the process starts it as soon as the first ends.
        Raises as :meth:`collect_batch` when the process is already gone."""
        executor = self._get_executor()
        if self._killed_by_cancel:
            raise CancelledInWorker(keys)
        try:
            future = executor.submit(_run_batch_in_worker, calls)
        except BrokenProcessPool as exc:
            self._discard(executor)
            if self._killed_by_cancel:
                raise CancelledInWorker(keys) from None
            raise _death(keys, exc, _worker_pid(executor)) from None
        memory_guard.watch()
        return SentBatch(keys, future, executor, _worker_name(executor))

    def collect_batch(
        self, sent: SentBatch
    ) -> tuple[list[tuple[Any, BaseException | None, float, float]], str]:
        """Wait for a sent batch: ((value, error, start, end) per call, worker name).
        A call's own exception is returned, not raised; a dead process, a batch
        that cannot travel and a cancel raise as for :meth:`run`."""
        try:
            outcomes, pid = sent.future.result()
        except BrokenProcessPool as exc:
            self._discard(sent.executor)
            if self._killed_by_cancel:
                raise CancelledInWorker(sent.keys) from None
            pid = sent.worker.removeprefix("pid:")
            raise _death(sent.keys, exc, int(pid) if pid.isdigit() else None) from None
        except Exception:
            if self._killed_by_cancel:
                self._discard(sent.executor)
                raise CancelledInWorker(sent.keys) from None
            raise
        return batch_outcomes(outcomes), f"pid:{pid}"

    def arm(self) -> None:
        """A new task is assigned to this slot: forget earlier kills.

        Called under the job's lock, before the slot is listed as running, so a
        cancel either sees the slot (and its kill is honoured by :meth:`run`)
        or does not (and the job stops before the task is sent).
        """
        self._killed_by_cancel = False

    def kill(self) -> None:
        """Stop whatever runs now; the next :meth:`run` starts a fresh process."""
        with self._lock:
            executor, self._executor = self._executor, None
            self._killed_by_cancel = True
        if executor is not None:
            executor.shutdown(wait=False, kill_workers=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, kill_workers=True)

    def _discard(self, executor: loky.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, kill_workers=True)


class SlotPool:
    """The process slots of this kernel, lent to jobs and returned when they end
    (``make_slot``: how a new one is made; a cluster's slots: ``cluster_slots``)."""

    def __init__(self, make_slot: Callable[[], Any] = ProcessSlot) -> None:
        self._make_slot = make_slot
        self._free: list[Any] = []
        self._lock = threading.Lock()

    def acquire(self, count: int) -> list[Any]:
        with self._lock:
            taken, self._free = self._free[:count], self._free[count:]
        return taken + [self._make_slot() for _ in range(count - len(taken))]

    def release(self, slots: list[Any]) -> None:
        with self._lock:
            self._free.extend(slots)

    def close(self) -> None:
        with self._lock:
            slots, self._free = self._free, []
        for slot in slots:
            slot.close()


def _worker_name(executor: loky.ProcessPoolExecutor) -> str:
    """``pid:<n>`` of a one-process executor (loky starts it in ``submit``)."""
    pid = _worker_pid(executor)
    return "process" if pid is None else f"pid:{pid}"


def _worker_pid(executor: loky.ProcessPoolExecutor) -> int | None:
    try:
        pids = list(getattr(executor, "_processes", None) or ())
    except RuntimeError:  # changed while loky's threads updated it
        return None
    return pids[0] if len(pids) == 1 else None


def _death(key: Any, exc: BaseException, pid: int | None) -> WorkerDiedError:
    """The error for a worker that died running ``key``: the memory guard's, if it killed it."""
    over = memory_guard.killed_for_memory(pid)
    if over is not None:
        return WorkerMemoryError(key, *over)
    return WorkerDiedError(key, _death_detail(exc))


def _death_detail(exc: BaseException) -> str:
    text = str(exc)
    marker = "The exit codes of the workers are "
    if marker in text:
        return "exit code " + text.split(marker, 1)[1].splitlines()[0].strip("{}")
    return type(exc).__name__


def _not_sendable(key: Any, exc: Exception) -> Exception:
    """Errors from pickling a task or its result: say which and what to do."""
    text = str(exc)
    if "pickle" in text.lower() or isinstance(exc, TypeError | AttributeError):
        return NotSendableError(
            f"task {key!r} could not be sent to or from a worker process: {text}. "
            "Use backend='threads' for tasks that take or return objects that cannot be pickled "
            "(open files, locks, database connections)."
        )
    return exc
