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
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import loky
from loky.process_executor import BrokenProcessPool

from kernel_ext.errors import NotSendableError, WorkerDiedError


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
    """Runs in the worker: each call in order, as :func:`_run_in_worker` runs one."""
    outcomes = []
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


class ProcessSlot:
    """One worker process that runs one task at a time and can be killed alone."""

    def __init__(self) -> None:
        self._executor: loky.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._killed_by_cancel = False

    def _get_executor(self) -> loky.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = loky.ProcessPoolExecutor(
                    max_workers=1, initializer=_ignore_sigint
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
        try:
            future = executor.submit(_run_in_worker, func, args, kwargs)
            if on_start is not None:
                on_start(_worker_name(executor))
            value, pid, start, end = future.result()
        except BrokenProcessPool as exc:
            self._discard(executor)
            if self._killed_by_cancel:
                raise CancelledInWorker(key) from None
            raise WorkerDiedError(key, _death_detail(exc)) from None
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
            raise WorkerDiedError(keys, _death_detail(exc)) from None
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
            raise WorkerDiedError(sent.keys, _death_detail(exc)) from None
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
    pids = list(getattr(executor, "_processes", None) or ())
    return f"pid:{pids[0]}" if len(pids) == 1 else "process"


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
