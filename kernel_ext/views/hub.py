"""One throttled observer per job that drives every view of it.

The dispatcher may deliver a batch every 20 ms; pushing each batch to three
widgets would send hundreds of messages a second and slow the job. The hub's
observer only appends the batch to a list. A ticker thread folds pending
events into the :class:`JobModel` and refreshes the views at most ``rate``
times a second, and the job's done callback refreshes them one last time and
calls ``finish``. The ticker also runs when no events arrive, so elapsed time
and the estimate keep moving while long tasks run.

Widget updates come from the ticker (or dispatcher) thread: ipykernel routes
them by comm id, so they reach the right cell whatever runs now.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kernel_ext.events import TaskEvent
from kernel_ext.views.model import Changes, JobModel

log = logging.getLogger(__name__)

DEFAULT_RATE = 4.0  # refreshes per second
_live_hubs: weakref.WeakSet[ViewHub] = weakref.WeakSet()  # for settle_finished_views


def settle_finished_views(*_args: Any, timeout: float = 1.0) -> None:
    """Wait briefly for views of jobs that have ended but not yet drawn their final state.

    ``job.wait()`` returns as soon as the job ends; its last events and the
    views' final refresh follow some milliseconds later from the dispatcher
    thread. Run as a ``post_run_cell`` hook, this makes a cell that waited on a
    job end with the views final, so headless runs (nbclient, which keeps only
    updates that arrive while a cell runs) save the final widget state.
    """
    deadline = time.monotonic() + timeout
    for hub in list(_live_hubs):
        if hub.job.done() and not hub.finished.is_set():
            hub.finished.wait(max(0.0, deadline - time.monotonic()))


class View(Protocol):
    def refresh(self, model: JobModel, changes: Changes) -> None:
        """Show the model's current state; ``changes`` tells what is new since last time."""

    def finish(self, model: JobModel) -> None:
        """The job has ended and every event was applied: settle into the final state."""


class ViewHub:
    """Feeds a job's events to views, throttled to ``rate`` refreshes per second."""

    def __init__(self, job: Any, rate: float = DEFAULT_RATE) -> None:
        self.job = job
        self.views: list[View] = []
        self.period = 1.0 / rate
        self.refreshes = 0  # how many times views were refreshed (tests check the throttle)
        self.finished = threading.Event()
        self._pending: list[TaskEvent] = []
        self._lock = threading.Lock()  # guards _pending
        self._refresh_lock = threading.Lock()  # one refresh at a time
        self._stop = threading.Event()
        self._finish_callbacks: list[Callable[[], None]] = []
        self.final = False  # the model holds the final states; views are settling or settled
        # Subscribe before the snapshot: an event may then be seen twice, which
        # the model ignores, but none is lost.
        job.subscribe(self._observe)
        self.model = JobModel(job)

    def start(self, views: Sequence[View]) -> ViewHub:
        """Begin refreshing ``views`` (built from ``self.model``); finish them when the job ends."""
        self.views = list(views)
        ticker = threading.Thread(target=self._tick, name=f"kernel_ext-views-{self.job.id}",
                                  daemon=True)
        ticker.start()
        _live_hubs.add(self)
        self.job.add_done_callback(self._on_done)
        return self

    def _observe(self, events: Sequence[TaskEvent]) -> None:
        with self._lock:
            self._pending.extend(events)

    def _tick(self) -> None:
        while not self._stop.wait(self.period):
            self._refresh()

    def _refresh(self) -> bool:
        with self._refresh_lock:
            if self.final:
                return False
            with self._lock:
                pending, self._pending = self._pending, []
            self.model.apply(pending)
            changes = self.model.take_changes()
            self.refreshes += 1
            for view in self.views:
                try:
                    view.refresh(self.model, changes)
                except Exception:
                    log.exception("view %r failed to refresh; the job is not affected", view)
            return True

    def _on_done(self, job: Any) -> None:
        self._stop.set()
        self._refresh()
        with self._refresh_lock:
            self.final = True
            self.job.unsubscribe(self._observe)
            # Late joiners may have missed the final events; the job's own states are exact.
            self.model.apply_snapshot(job.states())
            for view in self.views:
                try:
                    view.finish(self.model)
                except Exception:
                    log.exception("view %r failed to finish; the job is not affected", view)
            for callback in self._finish_callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("a views finish callback raised; the job is not affected")
            self.finished.set()

    def add_finish_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after the views settled; at once if they already have."""
        with self._refresh_lock:
            if not self.finished.is_set():
                self._finish_callbacks.append(callback)
                return
        callback()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the views show the job's final state (for tests and scripts)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = self.job.wait(timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return ok and self.finished.wait(remaining)
