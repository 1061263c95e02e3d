"""Keep a long session's widgets bounded: old finished views become static pictures.

Every ``%%parallel`` cell with views makes a dozen widgets (bars, labels,
layouts, a bokeh document for the stream). A widget lives in the kernel until
it is closed, so a session of hundreds of cells would keep thousands of them,
with their comms and documents. Only the last ``keep`` finished views stay
live widgets; when one more finishes, the oldest is *retired*: its output is
updated (by its display id, whichever cell runs now) to a static HTML bundle
showing the same final picture (summary, failed groups, the stream as SVG,
the graph's SVG), then every widget it made is closed. The picture stays in the
notebook; nothing of the view stays in the kernel.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

import ipywidgets as w

log = logging.getLogger(__name__)

KEEP_LIVE = 20  # finished views kept as live widgets (Parallel.live_views sets it)


class Retirable(Protocol):
    def retire(self) -> None:
        """Show a static picture in place of the widgets, then close them."""


class Retirement:
    """The finished, displayed views of this kernel, oldest first; retires beyond ``keep``."""

    def __init__(self, keep: int = KEEP_LIVE) -> None:
        self.keep = keep
        self._live: deque[Retirable] = deque()
        self._lock = threading.Lock()

    def finished(self, views: Retirable) -> None:
        """``views`` has settled into its final state; retire the oldest beyond ``keep``."""
        with self._lock:
            self._live.append(views)
            due = [self._live.popleft() for _ in range(max(0, len(self._live) - self.keep))]
        for old in due:
            try:
                old.retire()
            except Exception:
                log.exception("retiring finished views failed; the job is not affected")

    @property
    def live(self) -> int:
        """How many finished views are still live widgets."""
        return len(self._live)


retirement = Retirement()


def close_widgets(roots: Iterable[w.Widget]) -> int:
    """Close ``roots`` and every widget they hold (children, layouts, styles); returns
    how many were closed. Layouts and styles shared between them are closed once."""
    seen: dict[int, w.Widget] = {}
    todo = list(roots)
    while todo:
        widget = todo.pop()
        if id(widget) in seen:
            continue
        seen[id(widget)] = widget
        todo.extend(_held(widget))
    for widget in seen.values():
        if widget.comm is not None:
            widget.close()
    return len(seen)


def _held(widget: w.Widget) -> list[w.Widget]:
    held: list[w.Widget] = []
    for name in widget.keys:
        value: Any = getattr(widget, name, None)
        if isinstance(value, w.Widget):
            held.append(value)
        elif isinstance(value, list | tuple):
            held.extend(item for item in value if isinstance(item, w.Widget))
    return held
