"""Run a fan-out's first iterations in place, and fan out only what can pay for it.

A fanned-out iteration costs an engine task, and every accumulator call it
makes (``data[y, x] = v``) is recorded and replayed; for iterations of
microseconds that costs more than the loop itself. So the first iterations
run in the calling thread, in order, each applied at once (as the plain loop
would). A watchdog thread looks in every few milliseconds:

- when an iteration has run longer than ``watch`` seconds, the iterations
  before it were not quick on average (else it is taken for a stall), and the
  loop feeds its accumulators slowly (at most :data:`MAX_CALLS_PER_SECOND`),
  the iterations after it are handed to the engine while it finishes here:
  they are slow enough to gain from running at once, and their recording is
  cheap;
- when ``probe`` seconds of iterations have passed without one, the rest of
  the loop runs as plain Python code (:func:`run_rest_plainly`), at the
  plain loop's own speed; unless ``worth_at_deadline`` says the rest gains
  from running apart anyway (worker processes take many iterations of a
  millisecond in batches), and then it is handed to the engine.

Per iteration, the probe costs a lock and a clock read; the watchdog wakes a
few times per ``watch`` interval and only while the probe runs.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from kernel_ext.analysis import FanOut, FanOutKind

MAX_CALLS_PER_SECOND = 50_000  # recording and replaying a call costs ~1 µs: at most 5% extra
_REST = "__kernel_ext_rest"


class InlineProbe:
    """Runs iterations in place until they prove slow (fan out the rest) or the probe ends."""

    def __init__(self, watch: float, probe: float,
                 start_fanout: Callable[[int, list[tuple[float, float]]], bool],
                 worth_at_deadline: Callable[[float, int], bool] | None = None) -> None:
        self._watch = watch
        self._probe = probe
        # At the probe's end: (mean seconds per iteration, iterations left) -> fan out the
        # rest? (worker processes gain from many iterations of a millisecond; threads not)
        self._worth_at_deadline = worth_at_deadline
        # called with the first index to fan out and the (start, end) of each iteration
        # run here before the one running now; False: it cannot be (stay in place)
        self._start_fanout = start_fanout
        self.spans: list[tuple[float, float]] = []  # (start, end) of iterations run here
        self._lock = threading.Lock()
        # All below under the lock:
        self._count = 0
        self._running: int | None = None  # the iteration running in place now
        self._started = 0.0  # when it started
        self._feeders: list[Any] = []  # its accumulators' stand-ins (.fed counts the calls)
        self._done_time = 0.0  # time and accumulator calls of the iterations done here
        self._done_calls = 0
        self.fanned_from: int | None = None
        self._stop = threading.Event()

    def run(self, count: int, new_feeders: Callable[[], list[Any]],
            run_one: Callable[[int, list[Any]], None]) -> int:
        """Run iterations 0, 1, ... in place; returns the first one not run here.

        ``run_one(k, feeders)`` runs iteration k feeding its containers through
        ``feeders`` (fresh from ``new_feeders()``; the watchdog reads their ``fed``
        counts) and applies it.
        """
        self._count = count
        watchdog = threading.Thread(target=self._watch_loop, name="kernel_ext fan-out probe",
                                    daemon=True)
        watchdog.start()
        deadline = time.monotonic() + self._probe
        k = 0
        try:
            while k < count:
                feeders = new_feeders()
                with self._lock:
                    now = time.monotonic()
                    if self.fanned_from is None and now > deadline and self._fan_out_rest(k):
                        self.fanned_from = k
                    if self.fanned_from is not None or now > deadline:
                        return k  # fanned out, or nothing was slow: the rest runs plainly
                    self._running, self._started, self._feeders = k, now, feeders
                run_one(k, feeders)
                with self._lock:
                    ended = time.monotonic()
                    self.spans.append((self._started, ended))
                    self._done_time += ended - self._started
                    self._done_calls += sum(feeder.fed for feeder in feeders)
                    self._running = None
                k += 1
            return k
        finally:
            with self._lock:
                self._running = None
            self._stop.set()

    def _fan_out_rest(self, k: int) -> bool:
        """At the probe's end, before iteration k (with the lock held): fan out the rest?"""
        if self._worth_at_deadline is None or k == 0:
            return False
        mean = self._done_time / k
        if self._done_calls > MAX_CALLS_PER_SECOND * self._done_time:
            return False
        return self._worth_at_deadline(mean, self._count - k) and self._start_fanout(
            k, list(self.spans))

    @property
    def last_started(self) -> float:
        """When the last iteration run here started."""
        return self._started

    def _watch_loop(self) -> None:
        while not self._stop.wait(self._watch / 2):
            with self._lock:
                worth = None if self._running is None else self._worth_fanning_out()
                if worth is None:
                    continue
                if worth and self._start_fanout(self._running + 1,  # type: ignore[operator]
                                                list(self.spans)):
                    self.fanned_from = self._running + 1  # type: ignore[operator]
            return  # decided (under the lock, so the loop waits for the decision)

    def _worth_fanning_out(self) -> bool | None:
        """For the iteration running now: True (fan out the rest), False (never), or None
        (not known yet). Called with the lock held.

        It must have run ``watch`` seconds. An iteration stalled by other threads
        (the GIL) looks slow too, so when earlier iterations were quick on average,
        it is taken for a stall; and iterations that feed their containers fast
        would cost more to record than they gain.
        """
        assert self._running is not None
        elapsed = time.monotonic() - self._started
        if elapsed < self._watch:
            return None
        if self._running + 1 >= self._count:
            return False  # nothing after it
        done = self._running  # iterations run here before it
        if done and self._done_time / done < self._watch / 4:
            return False
        calls = self._done_calls + sum(feeder.fed for feeder in self._feeders)
        return calls / (self._done_time + elapsed) <= MAX_CALLS_PER_SECOND


def run_rest_plainly(
    fanout: FanOut, namespace: MutableMapping[str, Any], rest: Iterator[Any],
    filename: str, flags: int,
) -> list[Any] | None:
    """The loop (or comprehension) over ``rest``, as plain Python runs it in the cell.

    A comprehension's values come back as the iteration function gives them
    (the element, or the (key, value) pair), for the caller to put together.
    """
    target = store(fanout.target)
    namespace[_REST] = rest
    try:
        if fanout.kind is FanOutKind.FOR_LOOP:
            loop = ast.For(target=target, iter=ast.Name(_REST, ast.Load()),
                           body=list(fanout.body), orelse=[])
            ast.copy_location(loop, fanout.target)
            module = ast.fix_missing_locations(ast.Module(body=[loop], type_ignores=[]))
            exec(compile(module, filename, "exec", flags=flags, dont_inherit=True), namespace)
            return None
        assert fanout.element is not None
        element = fanout.element
        if fanout.value is not None:
            element = ast.Tuple([fanout.element, fanout.value], ast.Load())
        generator = ast.comprehension(target=target, iter=ast.Name(_REST, ast.Load()),
                                      ifs=list(fanout.conditions), is_async=0)
        comprehension = ast.ListComp(elt=element, generators=[generator])
        ast.copy_location(comprehension, fanout.element)
        expression = ast.fix_missing_locations(ast.Expression(comprehension))
        values: list[Any] = eval(compile(expression, filename, "eval", flags=flags,
                                         dont_inherit=True), namespace)
        return values
    finally:
        namespace.pop(_REST, None)


def store(target: ast.expr) -> ast.expr:
    """A copy of a Load-context target expression in Store context."""
    if isinstance(target, ast.Name):
        return ast.copy_location(ast.Name(target.id, ast.Store()), target)
    if isinstance(target, ast.Tuple | ast.List):
        cls = type(target)
        return ast.copy_location(cls([store(e) for e in target.elts], ast.Store()), target)
    if isinstance(target, ast.Starred):
        return ast.copy_location(ast.Starred(store(target.value), ast.Store()), target)
    raise ValueError(f"unsupported loop target {ast.dump(target)}")

