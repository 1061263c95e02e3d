"""Task states, the events that report them, and their delivery to observers.

Every view of a job (progress bars, task stream, graph colours, background-job
tables) is an observer of these events and nothing more. The scheduler only
appends events to a queue; a per-job dispatcher thread hands them to observers
in batches, so a slow or failing observer never slows down or breaks the job.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import NamedTuple

log = logging.getLogger(__name__)


class TaskState(enum.Enum):
    """Where a task is in its life. WAITING is the only state that is never an event."""

    WAITING = "waiting"  # some dependency has not finished
    QUEUED = "queued"  # all dependencies finished; waiting for a worker
    RUNNING = "running"  # a worker runs it now
    FINISHED = "finished"  # returned a value
    FAILED = "failed"  # raised (after any retries)
    RETRIED = "retried"  # raised, and was queued again (event only; the task is QUEUED after it)
    CANCELLED = "cancelled"  # the job stopped before the task could finish
    SKIPPED = "skipped"  # a dependency failed (keep_going runs only)

    # Members are singletons compared by identity, so identity hashing is exact;
    # Enum's own __hash__ is Python code, and states are dict keys on the hot path.
    __hash__ = object.__hash__


#: States a task can be in (every state but RETRIED, which is an event only).
TASK_STATES = tuple(s for s in TaskState if s is not TaskState.RETRIED)

#: States a task can end in.
FINAL_STATES = frozenset(
    {TaskState.FINISHED, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED}
)


class TaskEvent(NamedTuple):
    """One state change of one task.

    ``start`` and ``end`` are ``time.monotonic()`` readings (comparable across
    processes on one machine); ``start`` is set from RUNNING on, ``end`` on final
    states of tasks that ran. ``worker`` is a thread name or ``"pid:<n>"``.
    """

    job_id: int
    key: Hashable
    group: str
    state: TaskState
    worker: str | None = None
    start: float | None = None
    end: float | None = None
    attempt: int = 1
    error: BaseException | None = None


#: ``make_event((job_id, key, group, state, worker, start, end, attempt, error))``:
#: builds a TaskEvent in C, skipping the named tuple's Python-level ``__new__``
#: (all nine fields, in order). For the scheduler's hot path.
make_event = functools.partial(tuple.__new__, TaskEvent)

#: The states that are reported as events: every state but WAITING.
EVENT_STATES = frozenset(TaskState) - {TaskState.WAITING}

#: Seconds the delivery thread lets a job's waiters resume before running its done callbacks.
CLOSE_GRACE = 0.002

#: An observer gets events in batches, in the order they happened.
Observer = Callable[[Sequence[TaskEvent]], None]


class _DeliveryLoop:
    """The one thread that delivers every job's events, so jobs cost no thread of their own.

    While some job has observers it wakes every ``interval`` seconds (and in
    any case at once when a job closes), hands each active dispatcher's queued
    events to its observers, and forgets a dispatcher once its done callbacks
    have run. Observers and callbacks share
    this thread: they should be quick (the views are: they only note counts).
    """

    def __init__(self, interval: float = 0.02) -> None:
        self._interval = interval
        self._active: list[EventDispatcher] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def register(self, dispatcher: EventDispatcher) -> None:
        with self._wake:
            self._active.append(dispatcher)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="kernel_ext-events", daemon=True)
                self._thread.start()
            self._wake.notify()

    def wake(self) -> None:
        with self._wake:
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                # Poll only for jobs with observers. A job with done callbacks alone
                # (live views past the task stream's events) wakes this thread when it
                # closes: polling it anyway took the GIL from its workers 50 times a
                # second. (A close before this check is seen here: no lost wake-up.)
                if any(d.closing for d in self._active):
                    pass
                elif any(d.observed for d in self._active):
                    self._wake.wait(self._interval)
                else:
                    self._wake.wait()
                dispatchers = list(self._active)
            if any(d.closing for d in dispatchers):
                # A job just ended: let the threads waiting on it (woken with this
                # one) take the GIL first, before its observers' final work.
                time.sleep(CLOSE_GRACE)
            finished = [d for d in dispatchers if d._pump()]
            if finished:
                with self._wake:
                    self._active = [d for d in self._active if d not in finished]
            del dispatchers, finished  # not held while waiting


_delivery = _DeliveryLoop()


class EventDispatcher:
    """Delivers a job's events to its observers, from the one delivery thread.

    ``push`` is the only call on the scheduler's path: a deque append. The
    delivery thread wakes every 20 ms, so bursts of events coalesce into one
    batch per observer call.

    Each observer names the states it wants; ``wanted`` is their union, and the
    scheduler builds an event only if its state is in it (a plain attribute
    read and a set lookup), so an observer of final states alone does not pay
    for QUEUED and RUNNING events.
    """

    def __init__(self, name: str = "") -> None:
        self._queue: deque[TaskEvent] = deque()
        self._observers: list[Observer] = []
        self._filters: list[frozenset[TaskState]] = []  # the states each observer wants
        #: States some observer wants; the scheduler reads it without a lock.
        self.wanted: frozenset[TaskState] = frozenset()
        self._done_callbacks: list[Callable[[], None]] = []
        self._closing = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._started = False  # registered with the delivery loop

    @property
    def closing(self) -> bool:
        """True once the job has ended (its last events and done callbacks are due)."""
        return self._closing.is_set()

    @property
    def observed(self) -> bool:
        """True while some observer is subscribed (its events need delivering)."""
        return bool(self._observers)

    @property
    def active(self) -> bool:
        """True when events should be produced at all (someone listens)."""
        return bool(self.wanted)

    def subscribe(self, observer: Observer, states: Iterable[TaskState] | None = None) -> None:
        """Deliver events in ``states`` (default: all) to ``observer``.

        An observer is subscribed once: subscribing it again changes its states.
        """
        wanted = EVENT_STATES if states is None else frozenset(states) & EVENT_STATES
        with self._lock:
            if observer in self._observers:
                self._filters[self._observers.index(observer)] = wanted
            else:
                self._observers.append(observer)
                self._filters.append(wanted)
            self.wanted = frozenset().union(*self._filters)
            started = self._started
            self._start_locked()
        if started:
            _delivery.wake()  # it may be waiting without a timeout: poll from now on

    def unsubscribe(self, observer: Observer) -> None:
        with self._lock:
            if observer in self._observers:
                n = self._observers.index(observer)
                del self._observers[n], self._filters[n]
                self.wanted = frozenset().union(*self._filters)

    def push(self, event: TaskEvent) -> None:
        self._queue.append(event)

    def add_done_callback(self, callback: Callable[[], None]) -> bool:
        """Register a callback for after the last event; False if that moment has passed."""
        with self._lock:
            if self._closed.is_set():
                return False
            self._done_callbacks.append(callback)
            self._start_locked()
            return True

    def _start_locked(self) -> None:
        if not self._started:
            self._started = True
            _delivery.register(self)

    def close(self) -> None:
        """The job is over: deliver what is queued, then run done callbacks, then stop."""
        with self._lock:
            started = self._started
            self._closing.set()
        if not started:
            self._closed.set()
        else:
            _delivery.wake()

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._closed.wait(timeout)

    def _pump(self) -> bool:
        """Deliver what is queued; once closing, run the done callbacks. True when finished."""
        closing = self._closing.is_set()
        self._deliver()
        if not closing:
            return False
        with self._lock:
            self._closed.set()
            callbacks, self._done_callbacks = self._done_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("a job done-callback raised; the job is not affected")
        return True

    def _deliver(self) -> None:
        if not self._queue:
            return
        batch: list[TaskEvent] = []
        pop = self._queue.popleft
        try:
            while True:
                batch.append(pop())
        except IndexError:
            pass
        with self._lock:
            subscribers = list(zip(self._observers, self._filters, strict=True))
        for observer, states in subscribers:
            events = batch
            if states != EVENT_STATES:
                events = [e for e in batch if e.state in states]
                if not events:
                    continue
            try:
                observer(events)
            except Exception:
                log.exception("observer %r raised; it stays subscribed, the job is not affected",
                              observer)
