"""Live views for a foreground ``%%parallel`` cell.

Progress appears only for cells still running after ``delay`` seconds, so
quick cells stay clean; the task stream and the graph, when asked for, are
shown before the job starts so they see every task.

The progress view has a Cancel button only when the cell waits by awaiting
on the kernel's event loop (:mod:`kernel_ext.cell.awaiting`): a cell that
blocks the kernel's main thread would get the click only after it ended. The
kernel's interrupt (which cancels the cell's job) stops a cell either way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ViewOptions:
    progress: bool = True
    stream: bool = False
    graph: bool = False
    delay: float = 0.5  # seconds before progress alone is shown
    cancel_button: bool = False  # only where the click can reach the kernel while the cell runs


class LiveViews:
    """Decides when to show the views of one cell's job."""

    def __init__(self, job: Any, options: ViewOptions) -> None:
        self._job = job
        self._options = options
        self._shown = False
        self._started = time.monotonic()

    def before_start(self) -> None:
        if self._options.stream or self._options.graph:
            self._show()

    def tick(self) -> None:
        """Called from the wait loop, on the kernel's main thread."""
        if (not self._shown and self._options.progress
                and time.monotonic() - self._started >= self._options.delay):
            self._show()

    def _show(self) -> None:
        from kernel_ext.views import display_views

        self._shown = True
        o = self._options
        display_views(self._job, progress=o.progress, stream=o.stream, graph=o.graph,
                      cancel_button=o.cancel_button)


@contextlib.contextmanager
def live_views(job: Any, options: ViewOptions | None) -> Iterator[LiveViews | None]:
    if options is None or not (options.progress or options.stream or options.graph):
        yield None
        return
    yield LiveViews(job, options)
