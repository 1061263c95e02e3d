"""Live views for a foreground ``%%parallel`` cell, and keeping its Cancel button alive.

Progress appears only for cells still running after ``delay`` seconds, so
quick cells stay clean; the task stream and the graph, when asked for, are
shown before the job starts so they see every task. While a foreground cell
runs, the kernel's main thread handles no widget messages, so a click on
Cancel would wait for the cell to end: the wait loop lets jupyter-ui-poll
process the queued UI messages between its waits.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ViewOptions:
    progress: bool = True
    stream: bool = False
    graph: bool = False
    delay: float = 0.5  # seconds before progress alone is shown


class LiveViews:
    """Decides when to show the views of one cell's job, and pumps UI events once shown."""

    def __init__(self, job: Any, options: ViewOptions) -> None:
        self._job = job
        self._options = options
        self._shown = False
        self._started = time.monotonic()
        self._poll: Callable[[int], Any] | None = None
        self._exit = contextlib.ExitStack()

    def before_start(self) -> None:
        if self._options.stream or self._options.graph:
            self._show()

    def tick(self) -> None:
        """Called from the wait loop, on the kernel's main thread."""
        if (not self._shown and self._options.progress
                and time.monotonic() - self._started >= self._options.delay):
            self._show()
        if self._poll is not None:
            self._poll(20)

    def close(self) -> None:
        self._exit.close()

    def _show(self) -> None:
        from kernel_ext.views import display_views, in_widget_frontend

        self._shown = True
        o = self._options
        display_views(self._job, progress=o.progress, stream=o.stream, graph=o.graph)
        if in_widget_frontend():
            self._poll = _ui_poller(self._exit)


def _ui_poller(stack: contextlib.ExitStack) -> Callable[[int], Any] | None:
    try:
        from jupyter_ui_poll import ui_events

        return stack.enter_context(ui_events())
    except Exception:  # no kernel to poll; the button then works once the cell ends
        return None


@contextlib.contextmanager
def live_views(job: Any, options: ViewOptions | None) -> Iterator[LiveViews | None]:
    if options is None or not (options.progress or options.stream or options.graph):
        yield None
        return
    views = LiveViews(job, options)
    try:
        yield views
    finally:
        views.close()
