"""The cell jobs the JupyterLab extension lists, as :data:`~kernel_ext.lab.protocol` JobInfo.

Every ``%%parallel`` cell, foreground or background, is *tracked* when it
starts: the feed keeps its run and what the panel shows beside its progress
(the cell's first line, its ``In[n]``, the frontend's cell id). Finished jobs
stay listed up to ``keep_finished`` (the oldest go first) until cleared. The
feed only reads the engine's public counts; it sends nothing itself
(:mod:`kernel_ext.lab.channel` does).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel_ext.events import TaskState
from kernel_ext.scheduler import JobStatus

KEEP_FINISHED = 50  # finished jobs listed per kernel, as the issue asks
_FIRST_LINE_WIDTH = 80

JobInfo = dict[str, Any]  # the protocol's JobInfo record


@dataclass
class TrackedJob:
    """One cell's job and what the panel shows about it."""

    id: str
    run: Any  # kernel_ext.cell.runner.CellRun
    kind: str  # "foreground" or "background"
    number: int | None  # a background job's number
    execution_count: int | None
    cell_id: str | None
    first_line: str
    backend: str
    background: Any = None  # kernel_ext.background.registry.BackgroundJob
    started: float = field(default_factory=time.time)
    ended_info: JobInfo | None = None  # frozen once the job has ended and been settled

    @property
    def ended(self) -> bool:
        if self.ended_info is None and self._state() not in ("waiting", "running"):
            self.info()  # freezes what the panel shows, and lets go of the job
        return self.ended_info is not None

    def info(self) -> JobInfo:
        """The JobInfo now (the frozen one once ended)."""
        if self.ended_info is not None:
            return self.ended_info
        job = self.run.job
        counts = job.counts
        total = sum(counts.values())
        done = counts[TaskState.FINISHED]
        state = self._state()
        now = time.time()
        ended = None if state in ("waiting", "running") else now  # first seen ended: frozen
        elapsed = (ended or now) - self.started
        info: JobInfo = {
            "id": self.id,
            "number": self.number,
            "kind": self.kind,
            "execution_count": self.execution_count,
            "cell_id": self.cell_id,
            "first_line": self.first_line,
            "state": state,
            "total": total,
            "done": done,
            "failed": counts[TaskState.FAILED],
            "running": counts[TaskState.RUNNING],
            "started": self.started,
            "ended": ended,
            "elapsed": round(elapsed, 3),
            "time_left": _time_left(elapsed, done, total) if state == "running" else None,
            "workers": job.num_workers,
            "backend": self.backend,
            "error": self._error() if state == "failed" else None,
        }
        if ended is not None:
            self.ended_info = info
            # A finished job is listed from this record alone: its graph, results and
            # views are not kept alive by the panel's list (50 of them, a long session).
            self.run = self.background = None
        return info

    def cancel(self) -> None:
        if self.ended_info is None:
            (self.background or self.run.job).cancel()

    def _state(self) -> str:
        if self.background is not None:
            return str(self.background.state)  # running until its end is settled
        status = self.run.job.status
        if status is JobStatus.PENDING:
            return "waiting"
        return "running" if status is JobStatus.RUNNING else status.value

    def _error(self) -> str | None:
        if self.background is not None:
            return _one_line(self.background.describe_end())
        errors = [(_statement_of(key), error) for key, error in self.run.job.errors]
        if not errors:
            return None
        index, error = min(errors, key=lambda pair: pair[0])
        line = self.run.plan.statements[index].lineno
        return _one_line(f"failed at line {line}: {type(error).__name__}: {error}")


class JobFeed:
    """The kernel's tracked cell jobs, in start order."""

    def __init__(self, keep_finished: int = KEEP_FINISHED) -> None:
        self.keep_finished = keep_finished
        self._jobs: dict[str, TrackedJob] = {}
        self._lock = threading.Lock()
        self._foreground_ids = itertools.count(1)
        self._listeners: list[Callable[[], None]] = []

    def track(self, run: Any, *, kind: str, number: int | None = None,
              execution_count: int | None = None, cell_id: str | None = None,
              background: Any = None) -> TrackedJob:
        """List the job of ``run`` from now on; drop the oldest finished beyond the limit."""
        if kind == "background":
            job_id = f"bg-{number}"
        else:
            job_id = f"fg-{execution_count}.{next(self._foreground_ids)}"
        started = background.started_at if background is not None else time.time()
        tracked = TrackedJob(
            id=job_id, run=run, kind=kind, number=number, execution_count=execution_count,
            cell_id=cell_id, started=started, first_line=_first_line(run.plan.source),
            backend="dask" if run.options.cluster is not None else run.job.backend,
            background=background,
        )
        with self._lock:
            self._jobs[job_id] = tracked
            self._trim_locked()
        for listener in list(self._listeners):
            listener()
        return tracked

    def on_track(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever a job starts being tracked (the channel wakes up)."""
        self._listeners.append(listener)

    def jobs(self) -> list[TrackedJob]:
        with self._lock:
            self._trim_locked()  # jobs end after they are tracked
            return list(self._jobs.values())

    def get(self, job_id: str) -> TrackedJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def clear_finished(self) -> int:
        """Forget the jobs that have ended; how many were dropped."""
        with self._lock:
            ended = [job_id for job_id, job in self._jobs.items() if job.ended]
            for job_id in ended:
                del self._jobs[job_id]
        return len(ended)

    def _trim_locked(self) -> None:
        ended = [job_id for job_id, job in self._jobs.items() if job.ended]
        for job_id in ended[: max(0, len(ended) - self.keep_finished)]:
            del self._jobs[job_id]


def _time_left(elapsed: float, done: int, total: int) -> float | None:
    """From the pace so far; None until enough is done for the pace to mean something."""
    if done < max(3, total // 20) or total <= done or elapsed < 0.5:
        return None
    return round(elapsed / done * (total - done), 1)


def _statement_of(key: Any) -> int:
    """Statement index of a cell job's task key: ``i``, or ``(part, i)`` for a worker part."""
    return int(key[1] if isinstance(key, tuple) else key)


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return _one_line(line.strip(), _FIRST_LINE_WIDTH)
    return ""


def _one_line(text: str, width: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
