"""``%jobs`` and ``%parallel jobs | cancel N|all | wait [N] | status``: managing background
jobs, and what the kernel's threads and worker processes hold (``status``)."""

from __future__ import annotations

import html
import shlex
import sys
import time
from typing import Any

from IPython.core.error import UsageError

from kernel_ext.background.registry import BackgroundJob, JobRegistry

USAGE = "%parallel jobs | %parallel cancel N|all | %parallel wait [N] | %parallel status"


class JobsTable:
    """The table ``%jobs`` shows: text for terminals, HTML for notebooks."""

    COLUMNS = ("job", "state", "progress", "started", "duration", "cell")

    def __init__(self, jobs: list[BackgroundJob]) -> None:
        self.rows = [
            (
                str(job.number),
                job.state,
                job.progress_text,
                time.strftime("%H:%M:%S", time.localtime(job.started_at)),
                f"{job.duration:.1f} s",
                _first_line(job),
            )
            for job in jobs
        ]

    def __repr__(self) -> str:
        if not self.rows:
            return "no background jobs"
        table = [self.COLUMNS, *self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(self.COLUMNS))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        )

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<p>no background jobs</p>"
        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        return f"<table class='kernel-ext-jobs'><tr>{head}</tr>{body}</table>"


SETTLE_WAIT = 1.0  # seconds %jobs waits for an ended job's outcome


def jobs_line(registry: JobRegistry, line: str) -> Any:
    """Run ``%parallel <line>`` (no cell): jobs, cancel, wait, status."""
    words = _words(line)
    if not words or words[0] == "jobs":
        jobs = [registry[n] for n in registry]
        for job in jobs:
            # A job whose tasks have all ended is settled by the releaser thread within
            # moments: show its outcome, not "running" (a later cell may have read its names).
            if job.run.job.done():
                job.wait(SETTLE_WAIT)
        return JobsTable(jobs)
    command, rest = words[0], words[1:]
    if command == "cancel":
        if len(rest) != 1:
            raise UsageError(f"%parallel cancel takes a job number or 'all'; {USAGE}")
        for job in _select(registry, rest[0], default_all=False):
            job.cancel()
            print(f"job {job.number}: cancel requested")
        return None
    if command == "wait":
        if len(rest) > 1:
            raise UsageError(f"%parallel wait takes at most one job number; {USAGE}")
        wait_for(_select(registry, rest[0] if rest else "all", default_all=True))
        return None
    if command == "status":
        if rest:
            raise UsageError(f"%parallel status takes no arguments; {USAGE}")
        from kernel_ext.background.magics_status import StatusTable

        return StatusTable()
    raise UsageError(f"unknown %parallel command {command!r}; {USAGE}")


def wait_for(jobs: list[BackgroundJob]) -> None:
    """Block until ``jobs`` end, showing their progress here. An interrupt stops the wait only."""
    from kernel_ext.views import display_views

    pending = [job for job in jobs if not job.done()]
    for job in pending:
        display_views(job.job, progress=True)
    for job in pending:
        job.wait()
    for job in jobs:
        if job.failure is not None:
            print(f"job {job.number} {job.failure}", file=sys.stderr)


def _select(registry: JobRegistry, which: str, default_all: bool) -> list[BackgroundJob]:
    if which == "all":
        return [registry[n] for n in registry]
    try:
        return [registry[int(which)]]
    except ValueError:
        raise UsageError(f"expected a job number or 'all', not {which!r}") from None
    except KeyError:
        raise UsageError(f"there is no background job {which}") from None


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _first_line(job: BackgroundJob) -> str:
    source = job.run.plan.source.strip().splitlines()
    text = source[0] if source else ""
    return text if len(text) <= 40 else text[:39] + "…"
