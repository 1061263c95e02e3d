"""Turning a shipped statement's prints and warnings into events, safely for overlapping runs.

A worker process runs one statement at a time, so swapping ``sys.stdout``
for the statement was enough there. But a Dask cluster with
``processes=False`` runs shipped statements on threads *of the kernel
process*, several at once: two swaps that overlap restore each other's
streams out of order and leave the kernel printing into a dead statement's
events (every later cell silent), and ``warnings.catch_warnings`` has the
same race.

So the swap is shared: the first statement to start installs streams and a
``showwarning`` that route by thread (a running statement's thread writes
into its events; any other thread, such as the kernel's own, writes where it
wrote before), and the last one to end puts the originals back.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from typing import Any

Event = tuple[str, Any]


class _SharedCapture:
    """The one swap of stdout, stderr and the warnings hooks, for however many runs overlap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[int, list[Event]] = {}  # thread id -> its statement's events
        self._saved: tuple[Any, Any, list[Any], Any] | None = None
        self._installed: tuple[Any, Any, list[Any], Any] | None = None
        self._holds = 0
        self._record: Any = None
        self._streams: dict[tuple[str, int], _RoutedStream] = {}  # kept for good, see _stream

    def events_here(self) -> list[Event] | None:
        return self._events.get(threading.get_ident())

    def into(self, events: list[Event], record: Any) -> _Into:
        """While entered, this thread's prints and warnings go into ``events``."""
        return _Into(self, events, record)

    def _enter(self, events: list[Event], record: Any) -> None:
        with self._lock:
            if self._saved is None:
                self._install()
            self._events[threading.get_ident()] = events
            self._record = record  # the same function for every run

    def _exit(self) -> None:
        with self._lock:
            self._events.pop(threading.get_ident(), None)
            if not self._events:
                if self._holds:
                    self._reinstall_if_changed()
                else:
                    self._uninstall()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Keep the swap in place between runs (a worker process's batch of tasks): each
        run then costs a dict entry, and what a run changed is put back after it."""
        with self._lock:
            self._holds += 1
            if self._saved is None:
                self._install()
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1
                if not self._holds and not self._events:
                    self._uninstall()

    def _install(self) -> None:
        import sys

        self._saved = (sys.stdout, sys.stderr, list(warnings.filters), warnings.showwarning)
        sys.stdout = self._stream("stdout", self._saved[0])
        sys.stderr = self._stream("stderr", self._saved[1])
        warnings.simplefilter("always")  # every warning is kept; the kernel filters
        warnings.showwarning = self._show
        self._installed = (sys.stdout, sys.stderr, list(warnings.filters), self._show)

    def _stream(self, kind: str, original: Any) -> _RoutedStream:
        """The routed stream over ``original``, made once and never freed: CPython 3.11's
        ``print`` holds ``sys.stdout`` without a reference while it writes, so a stream
        freed by another thread's uninstall mid-print crashed the process (see
        :mod:`kernel_ext.cell.output`)."""
        stream = self._streams.get((kind, id(original)))
        if stream is None:  # each holds its original, so the id is not reused meanwhile
            stream = self._streams[(kind, id(original))] = _RoutedStream(kind, self, original)
        return stream

    def _reinstall_if_changed(self) -> None:
        """Between held runs: undo what the last run changed (a filter it added, say)."""
        import sys

        assert self._installed is not None
        stdout, stderr, filters, show = self._installed
        if sys.stdout is not stdout or sys.stderr is not stderr:
            sys.stdout, sys.stderr = stdout, stderr
        if warnings.filters != filters:
            warnings.filters[:] = filters
            warnings._filters_mutated()  # type: ignore[attr-defined]
        if warnings.showwarning != show:
            warnings.showwarning = show

    def _uninstall(self) -> None:
        import sys

        if self._saved is None:
            return
        sys.stdout, sys.stderr, filters, show = self._saved
        warnings.filters[:] = filters
        warnings._filters_mutated()  # type: ignore[attr-defined]
        warnings.showwarning = show
        self._saved = self._installed = None

    def _show(self, message: Warning | str, category: type[Warning], filename: str,
              lineno: int, file: Any = None, line: str | None = None) -> None:
        events = self.events_here()
        if events is not None:
            self._record(events, message, category, filename, lineno)
        elif self._saved is not None:
            self._saved[3](message, category, filename, lineno, file, line)


class _Into:
    """:meth:`_SharedCapture.into` as a plain context manager (entered for every task)."""

    __slots__ = ("_capture", "_events", "_record")

    def __init__(self, capture: _SharedCapture, events: list[Event], record: Any) -> None:
        self._capture, self._events, self._record = capture, events, record

    def __enter__(self) -> None:
        self._capture._enter(self._events, self._record)

    def __exit__(self, *exc: object) -> None:
        self._capture._exit()


class _RoutedStream:
    """``sys.stdout``/``sys.stderr`` while statements are captured: by thread, see above."""

    def __init__(self, kind: str, capture: _SharedCapture, original: Any) -> None:
        self._kind, self._capture, self._original = kind, capture, original

    def write(self, text: str) -> int:
        events = self._capture.events_here()
        if events is None:
            return int(self._original.write(text) or 0)
        if events and events[-1][0] == self._kind:
            events[-1] = (self._kind, events[-1][1] + text)
        else:
            events.append((self._kind, text))
        return len(text)

    def flush(self) -> None:
        if self._capture.events_here() is None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # encoding, fileno...: the original's
        return getattr(self._original, name)


SHARED = _SharedCapture()
