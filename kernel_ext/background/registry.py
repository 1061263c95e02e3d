"""The kernel's background jobs, by number, and the one thread that looks after them.

A :class:`BackgroundJob` is one ``%%parallel --background`` cell: its
:class:`~kernel_ext.cell.runner.CellRun`, the request (parent) of the cell that
started it, and what it left behind. The :class:`JobRegistry` numbers jobs
from 1, starts them (a job whose statements conflict with an earlier job's
pending statements starts once those have ended), and runs a single
*releaser* thread for all of them: every ``TICK`` seconds it releases each
job's output in statement order with the starting cell as the thread's
parent, and settles jobs that ended (unbinds unproduced names, shows the
error or the final value in the starting cell, records failures for sync).

``kernel_ext.jobs`` is the registry: a read-only mapping from job number to
:class:`BackgroundJob`.
"""

from __future__ import annotations

import ast
import itertools
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kernel_ext.analysis import Statement
from kernel_ext.analysis.effects import FILES
from kernel_ext.background.routing import output_to, show_error
from kernel_ext.cell.runner import CellRun, bound_names
from kernel_ext.errors import JobCancelledError
from kernel_ext.events import FINAL_STATES, TaskState
from kernel_ext.scheduler import JobStatus

TICK = 0.05  # seconds between two releases of background output
KEEP_JOBS = 100  # ended background jobs kept for %jobs and kernel_ext.jobs, by default


@dataclass(frozen=True)
class Conflict:
    """The statements of one job that a later cell must wait for, and the names why."""

    statements: frozenset[int]
    names: frozenset[str]
    everything: bool = False  # an opaque side: no names to tell


class BackgroundJob:
    """One background cell. ``result()``, ``exception()``, ``cancel()``, ``wait()``."""

    def __init__(
        self, number: int, run: CellRun, parent: dict[str, Any] | None, shell: Any, show_value: bool
    ) -> None:
        self.number = number
        self.run = run
        self.parent = parent  # the starting cell's request: its output goes there
        self.shell = shell
        self.started_at = time.time()  # wall clock, for %jobs
        self.ended_at: float | None = None
        self.prerequisites: dict[BackgroundJob, frozenset[int]] = {}  # start after these end
        self.failure: str | None = None  # "failed at line 4: ValueError: ..." / "was cancelled"
        self._error: BaseException | None = None
        self._show_value = show_value
        self._value: Any = None
        self._settled = threading.Event()  # set once the end is fully accounted for

    # ------------------------------------------------------------------ public

    def __repr__(self) -> str:
        return f"<BackgroundJob {self.number} {self.state}: {self.progress_text}>"

    @property
    def job(self) -> Any:
        """The engine :class:`~kernel_ext.scheduler.Job` behind this cell."""
        return self.run.job

    @property
    def state(self) -> str:
        """waiting (for an earlier job), running, finished, failed or cancelled."""
        status = self.run.job.status
        if status is JobStatus.PENDING:
            return "waiting"
        if status is JobStatus.RUNNING or not self._settled.is_set():
            return "running"
        return status.value

    @property
    def progress_text(self) -> str:
        counts = self.run.job.counts
        return f"{counts[TaskState.FINISHED]}/{self.run.job.task_count} tasks"

    @property
    def duration(self) -> float:
        end = self.ended_at if self.ended_at is not None else time.time()
        return end - self.started_at

    def done(self) -> bool:
        return self._settled.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended and been settled; True if it has.

        An interrupt stops the wait, not the job.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._settled.wait(0.05):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def result(self, timeout: float | None = None) -> Any:
        """The cell's final expression value (None without one); raises the job's error."""
        if not self.wait(timeout):
            raise TimeoutError(f"job {self.number} did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        if self.run.job.status is JobStatus.CANCELLED:
            raise JobCancelledError(f"job {self.number} was cancelled")
        return self._value

    def exception(self) -> BaseException | None:
        """The error of the earliest failing statement, once ended (None while running)."""
        return self._error

    def cancel(self) -> None:
        """Stop the job: nothing new starts; statements running on threads end on their own."""
        self.run.job.cancel()

    # ------------------------------------------------------------- for sync

    def conflicts(self, reads: frozenset[str], writes: frozenset[str], opaque: bool) -> Conflict:
        """The pending statements a cell reading ``reads`` and writing ``writes`` must wait for.

        Pending: not yet in a final state. A cell conflicts with a statement
        that will write a name it reads, or reads or writes a name it writes.
        An opaque cell, or an opaque statement, conflicts with everything.
        """
        if self._settled.is_set():
            return Conflict(frozenset(), frozenset())
        states = self.run.job.states()
        hit: set[int] = set()
        names: set[str] = set()
        everything = False
        for stmt in self.run.plan.statements:
            if states[stmt.index] in FINAL_STATES:
                continue
            why = (stmt.writes & reads) | ((stmt.reads | stmt.writes) & writes)
            # Files are ordered within a cell, not across cells: a later cell that
            # prints is not held up by a job that prints (`%parallel wait` orders files).
            why -= _FILES_ONLY
            if why or opaque or stmt.opaque:
                hit.add(stmt.index)
                names |= why
                everything = everything or not why
        return Conflict(frozenset(hit), frozenset(names), everything)

    def statements_final(self, indices: frozenset[int]) -> bool:
        if self.run.job.done():
            return True
        states = self.run.job.states()
        return all(states[i] in FINAL_STATES for i in indices)

    def not_produced(self, names: frozenset[str]) -> str | None:
        """If one of ``names`` was to be bound by a statement that ended without finishing
        (failed, skipped, cancelled), the clear message for a reader of that name; else None."""
        indices = range(len(self.run.plan.statements))
        states = self.run.job.states()
        for i in sorted(indices):
            if states[i] is TaskState.FINISHED or states[i] not in FINAL_STATES:
                continue
            missing = sorted(bound_names(self.run.plan.statements[i]) & names)
            if missing:
                return f"{missing[0]!r} was not produced: job {self.number} {self.describe_end()}"
        return None

    def describe_end(self) -> str:
        """How the job went wrong, as far as known now: 'failed at line 4: ValueError: ...'."""
        if self.failure is not None:
            return self.failure
        failed = self.run._first_failed()
        if failed is not None:
            error = self.run._error_of(failed)
            line = self.run.plan.statements[failed].lineno
            return f"failed at line {line}: {type(error).__name__}: {error}"
        if self.run.job.status is JobStatus.CANCELLED:
            return "was cancelled"
        return "did not produce it"

    # ------------------------------------------------------------ lifecycle

    def _ready_to_start(self) -> bool:
        return all(job.statements_final(idx) for job, idx in self.prerequisites.items())

    def _settle(self) -> dict[str, str]:
        """On the releaser thread, with the starting cell as parent. Returns failed names."""
        failed, error = self.run.settle_background()
        self.ended_at = time.time()
        self._error = error
        unproduced: dict[str, str] = {}
        if error is not None or self.run.job.status is JobStatus.CANCELLED:
            self.failure = self.describe_end()
            for name in sorted(self.run.unproduced_names()):
                unproduced[name] = f"{name!r} was not produced: job {self.number} {self.failure}"
        if error is not None:
            show_error(self.shell, self.parent, error)
        elif self.run.job.status is JobStatus.CANCELLED:
            print(f"job {self.number} {self.failure}", file=sys.stderr)
        else:
            stmts = self.run.plan.statements
            if stmts and stmts[-1].produces_value:
                self._value = self.run.job.results.get(stmts[-1].index)
                if self._show_value and self._value is not None:
                    from IPython.display import display

                    display(self._value)
        self._settled.set()
        return unproduced


@dataclass
class _Failures:
    """Names that failed jobs did not produce: name -> the message for a reader."""

    by_name: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class JobRegistry(Mapping[int, BackgroundJob]):
    """The kernel's background jobs by number (read-only), plus their releaser thread."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._jobs: dict[int, BackgroundJob] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = _Failures()
        self.keep = KEEP_JOBS  # ended jobs kept for %jobs (Parallel.keep_jobs sets it)

    # ------------------------------------------------------------ mapping

    def __getitem__(self, number: int) -> BackgroundJob:
        try:
            return self._jobs[number]
        except KeyError:
            raise KeyError(f"no background job {number}") from None

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._jobs))

    def __len__(self) -> int:
        return len(self._jobs)

    def __repr__(self) -> str:
        return f"<kernel_ext jobs: {', '.join(repr(j) for j in self._jobs.values()) or 'none'}>"

    # ------------------------------------------------------------ lifecycle

    def next_number(self) -> int:
        with self._lock:
            return next(self._numbers)

    def unsettled(self) -> list[BackgroundJob]:
        return [job for job in list(self._jobs.values()) if not job.done()]

    def active(self) -> bool:
        """True while sync has anything to do: unsettled jobs or recorded failures."""
        return bool(self.unsettled()) or bool(self.failures.by_name)

    def start(
        self, number: int, run: CellRun, parent: dict[str, Any] | None, show_value: bool
    ) -> BackgroundJob:
        """Register and start the job (or queue it behind the earlier jobs it conflicts with)."""
        job = BackgroundJob(number, run, parent, self.shell, show_value)
        for earlier in self.unsettled():
            needs = [
                earlier.conflicts(_free_reads(s, run.plan.statements), s.writes, s.opaque)
                for s in run.plan.statements
            ]
            indices = frozenset().union(*(c.statements for c in needs))
            if indices:
                job.prerequisites[earlier] = indices
        with self._lock:
            self._jobs[number] = job
            settled = [n for n, kept in self._jobs.items() if kept.done()]
            for old in settled[: max(0, len(self._jobs) - self.keep)]:
                del self._jobs[old]  # the oldest ended jobs beyond Parallel.keep_jobs
        if job._ready_to_start():
            job.prerequisites.clear()
            run.start_background()
        self._ensure_thread()
        self._wake.set()
        return job

    def check_before(self, stmt: Statement, statements: tuple[Statement, ...]) -> None:
        """In a background statement: a name a failed job did not produce is a clear NameError."""
        for name in sorted(_free_reads(stmt, statements)):
            message = self.failures.by_name.get(name)
            if message is not None and name not in self.shell.user_ns:
                raise NameError(message, name=name)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._release_loop, name="kernel_ext-background", daemon=True
                )
                self._thread.start()

    def _release_loop(self) -> None:
        while True:
            jobs = self.unsettled()
            if not jobs:
                self._wake.wait()
                self._wake.clear()
                continue
            for job in jobs:
                try:
                    self._look_after(job)
                except Exception as error:  # keep serving the other jobs
                    print(f"kernel_ext: job {job.number}: {error!r}", file=sys.__stderr__)
            time.sleep(TICK)

    def _look_after(self, job: BackgroundJob) -> None:
        engine = job.run.job
        if engine.status is JobStatus.PENDING:
            if not job._ready_to_start():
                return
            job.prerequisites.clear()
            job.run.start_background()
        with output_to(self.shell, job.parent):
            job.run.tick()
            if engine.done():
                failed = job._settle()
                with self.failures.lock:
                    for name in _all_writes(job):  # produced anew, or failed anew
                        self.failures.by_name.pop(name, None)
                    self.failures.by_name.update(failed)


_FILES_ONLY = frozenset({FILES})


def _all_writes(job: BackgroundJob) -> set[str]:
    return set().union(*(s.writes for s in job.run.plan.statements))


def _free_reads(stmt: Statement, statements: tuple[Statement, ...]) -> frozenset[str]:
    """Names ``stmt`` reads that no earlier statement of its cell writes."""
    written: set[str] = set()
    for other in statements[: stmt.index]:
        written |= other.writes
    return stmt.reads - written - _bound_before_read(stmt.node)


def _bound_before_read(node: ast.stmt) -> set[str]:
    """A top-level ``for``'s targets: its body reads them only after the loop has bound them.

    The analysis counts them as reads (a loop that runs no iteration leaves the
    old value), but the plain cell never *needs* them: a failed job that left
    ``i`` unbound must not fail a later ``for i in ...``. Unless the iterable or
    the ``else`` clause reads them, which happens before (or without) binding.
    """
    if not isinstance(node, ast.For | ast.AsyncFor):
        return set()
    targets = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    early = {n.id for part in (node.iter, *node.orelse) for n in ast.walk(part)
             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return targets - early
