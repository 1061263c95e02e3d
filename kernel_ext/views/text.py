"""A one-line progress bar on stderr, for terminals and scripts (no widget frontend)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from kernel_ext.events import TaskState
from kernel_ext.views.model import Changes, JobModel
from kernel_ext.views.progress import _ENDED, summary_text

WIDTH = 30


class TextProgress:
    """Redraws ``[#####     ] 50/100 …`` in place with ``\\r``; ends with a summary line."""

    def __init__(self, job: Any, model: JobModel, stream: TextIO | None = None) -> None:
        self.job = job
        self.stream = stream
        self.last = ""

    def _out(self) -> TextIO:
        return self.stream or sys.stderr  # looked up late: tests and kernels swap sys.stderr

    def line(self, model: JobModel) -> str:
        totals = model.totals()
        n = self.job.task_count
        ended = sum(totals[s] for s in _ENDED)
        filled = WIDTH * ended // n if n else WIDTH
        text = f"{self.job.name} [{'#' * filled}{' ' * (WIDTH - filled)}] {ended}/{n}"
        if totals[TaskState.RUNNING]:
            text += f" · {totals[TaskState.RUNNING]} running"
        if totals[TaskState.FAILED]:
            text += f" · {totals[TaskState.FAILED]} failed"
        return text

    def refresh(self, model: JobModel, changes: Changes) -> None:
        text = self.line(model)
        if text != self.last:
            # Pad with spaces so a shorter line fully covers the previous one.
            self._out().write("\r" + text.ljust(len(self.last)))
            self._out().flush()
            self.last = text

    def finish(self, model: JobModel) -> None:
        text = f"{self.job.name}: {summary_text(self.job, model)}"
        self._out().write("\r" + text.ljust(len(self.last)) + "\n")
        self._out().flush()
        self.last = ""

    def __repr__(self) -> str:
        return f"<TextProgress of {self.job.name}>"
