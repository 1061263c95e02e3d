"""One throttled poller (and at most one observer) per job that drives every view of it.

One clock thread, shared by every job's hub, refreshes each job's views at
most ``rate`` times a second: it polls
the job's per-group counts (and, for small graphs, task states) into the
:class:`JobModel`, folds in the few events it asked for, and refreshes the
views; the job's done callback refreshes them one last time and calls
``finish``. The ticker also runs when nothing changed, so elapsed time and the
estimate keep moving while long tasks run.

Nothing runs per state change, since that work would compete with the
workers for the GIL: counts are polled, not followed. Only the task stream
needs events (when and where each task ran), and only for the runs it draws
one by one: the hub subscribes to FINISHED/FAILED/RETRIED alone, and
unsubscribes once it has the stream's ``span_limit`` of them (the stream then
aggregates from the counts). A refresh that costs more than ``BUDGET`` of the
time between refreshes (many groups, a big uncollapsed graph) twice in a row
stretches the period, so views never take more than about 2% of the CPU for
long (one costly refresh, such as the task stream building its plot, does not).

Widget updates come from the clock (or event delivery) thread: ipykernel routes
them by comm id, so they reach the right cell whatever runs now.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kernel_ext.events import TaskEvent
from kernel_ext.views.model import SPAN_STATES, Changes, JobModel

log = logging.getLogger(__name__)

DEFAULT_RATE = 4.0  # refreshes per second
BUDGET = 0.02  # share of the time between refreshes that refreshing may use
MAX_PERIOD = 1.0  # seconds: the slowest the views ever refresh (slower looks frozen)
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

    def static_html(self) -> str:
        """The final state as plain HTML: what the view shows once retired."""

    def own_widgets(self) -> list[Any]:
        """Every widget the view made (closed when it is retired)."""


class _Clock:
    """The one thread that refreshes every live hub when it is due, so jobs add no threads."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, ViewHub]] = []  # a heap of (when, order, hub)
        self._order = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, hub: ViewHub) -> None:
        with self._wake:
            self._order += 1
            heapq.heappush(self._due, (time.monotonic() + hub.period, self._order, hub))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kernel_ext-views",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def remove(self, hub: ViewHub) -> None:
        """Stop refreshing ``hub`` and let go of it (and so of its job) now, not when due."""
        with self._wake:
            kept = [entry for entry in self._due if entry[2] is not hub]
            if len(kept) != len(self._due):
                heapq.heapify(kept)
                self._due = kept

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(timeout)
                _, order, hub = heapq.heappop(self._due)
            self._refresh(hub, order)
            del hub  # not held while waiting: a finished job goes when its owner lets go

    def _refresh(self, hub: ViewHub, order: int) -> None:
        if hub._stop.is_set():
            return
        try:
            hub._refresh()
        except Exception:
            log.exception("refreshing views failed; the job is not affected")
        with self._wake:
            if not hub._stop.is_set():
                heapq.heappush(self._due, (time.monotonic() + hub.period, order, hub))


_clock = _Clock()


class ViewHub:
    """Feeds a job's state to views, throttled to ``rate`` refreshes per second."""

    def __init__(self, job: Any, rate: float = DEFAULT_RATE) -> None:
        self.job = job
        self.views: list[View] = []
        self.period = self.base_period = 1.0 / rate
        self.refreshes = 0  # how many times views were refreshed (tests check the throttle)
        self._last_cost = 0.0  # CPU seconds of the previous refresh
        self.finished = threading.Event()
        self._pending: list[TaskEvent] = []
        self._lock = threading.Lock()  # guards _pending
        self._refresh_lock = threading.Lock()  # one refresh at a time
        self._stop = threading.Event()
        self._finish_callbacks: list[Callable[[], None]] = []
        self.final = False  # the model holds the final states; views are settling or settled
        self._span_events = 0  # events received, for the stream's span_limit
        self._limit = False  # apply the span_limit (once the views are there to set it)
        # Subscribe at once, so a stream built while the job runs misses no run;
        # start() unsubscribes if no view wants runs.
        self._subscribed = not job.done()
        if self._subscribed:
            job.subscribe(self._observe, states=SPAN_STATES)
        self.model = JobModel(job)

    def start(self, views: Sequence[View]) -> ViewHub:
        """Begin refreshing ``views`` (built from ``self.model``); finish them when the job ends."""
        self.views = list(views)
        with self._lock:
            self._limit = True
            wanted = self.model.track_spans and self._span_events < self.model.span_limit
            if not wanted:
                self._pending = []
            stop, self._subscribed = self._subscribed and not wanted, self._subscribed and wanted
        if stop:
            self.job.unsubscribe(self._observe)
        _clock.add(self)
        _live_hubs.add(self)
        self.job.add_done_callback(self._on_done)
        return self

    def _observe(self, events: Sequence[TaskEvent]) -> None:
        with self._lock:
            self._pending.extend(events)
            self._span_events += len(events)
            enough = (self._limit and self._subscribed
                      and self._span_events >= self.model.span_limit)
            if enough:
                self._subscribed = False
        if enough:  # the stream draws no more single runs: stop the engine building events
            self.job.unsubscribe(self._observe)

    def _refresh(self) -> bool:
        with self._refresh_lock:
            if self.final:
                return False
            began = time.thread_time()
            with self._lock:
                pending, self._pending = self._pending, []
            # Events first, then the counts: every event taken is then in the counts.
            self.model.apply(pending)
            self.model.poll()
            changes = self.model.take_changes()
            self.refreshes += 1
            for view in self.views:
                try:
                    view.refresh(self.model, changes)
                except Exception:
                    log.exception("view %r failed to refresh; the job is not affected", view)
            cost = time.thread_time() - began
            # The cheaper of the last two: a one-off cost (the task stream building
            # its plot) does not slow the refreshes after it; a steady one does.
            steady, self._last_cost = min(cost, self._last_cost), cost
            self.period = min(MAX_PERIOD, max(self.base_period, steady / BUDGET))
            return True

    def _on_done(self, job: Any) -> None:
        self._stop.set()
        _clock.remove(self)
        self._refresh()
        with self._refresh_lock:
            self.final = True
            self.job.unsubscribe(self._observe)
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
