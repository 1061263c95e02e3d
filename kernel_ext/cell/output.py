"""Per-statement output capture, released in statement order.

While a ``%%parallel`` cell runs, several statements print at once from
worker threads. Each task's ``print`` and ``display`` output goes to a buffer
of its own (chosen by a context variable that the task sets when it starts);
the cell's main thread releases the buffers in statement order, each as soon
as every earlier statement has finished, so output streams while the cell runs
and reads exactly as the plain cell's would.

Threads a statement starts (``threading.Thread``, a ``ThreadPoolExecutor``'s
workers) write into that statement's buffer too, so their output keeps the
statement's place as in the plain cell instead of overtaking the output of
earlier statements still buffered. While any job routes output,
``Thread.start`` is wrapped: a thread started by a thread whose output is
captured is given that buffer (in a weak map by thread, read by the routing
streams when the context variable is unset, since a new thread starts with an
empty context). Only ``Thread.start`` is wrapped, so the hook costs
nothing per write, is active only while a cell or job runs, and reaches
threads started through any library that uses :mod:`threading`; kernel_ext's
own threads (named ``kernel_ext...``) are left out. A buffer is closed when it
is released for the last time; a thread that outlives its statement then
writes straight through, as a plain cell's background thread does.

Anything else (the kernel's own threads, threads started outside a cell) writes
straight through.

Writes to the kernel's stream objects themselves (by code that kept a
reference to ``sys.stdout`` from before the cell, such as a logging handler)
follow the same rule: while output is routed, those objects' ``write`` is
shadowed (:class:`_DirectWrites`).

The routing streams are made once per stream they wrap and never freed.
CPython 3.11's ``print`` holds ``sys.stdout`` without a reference of its own
while it calls ``write`` (once for the text, once for the end): when another
thread (a background job ending) put the kernel's stream back in between,
a stream made for the occasion was freed under the printing thread, which
then wrote through freed memory and crashed the kernel.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

_current: contextvars.ContextVar[TaskOutput | None] = contextvars.ContextVar(
    "kernel_ext_task_output", default=None
)


@dataclass
class TaskOutput:
    """What one statement printed or displayed, in order: ('stdout'|'stderr'|'display', payload)."""

    items: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False  # released for the last time: later writes go straight through

    def add(self, kind: str, payload: Any) -> bool:
        """Buffer one write; False when the buffer is closed (the caller writes it through)."""
        with self.lock:
            if self.closed:
                return False
            if kind != "display" and self.items and self.items[-1][0] == kind:
                self.items[-1] = (kind, self.items[-1][1] + payload)
            else:
                self.items.append((kind, payload))
        return True

    def take(self, close: bool = False) -> list[tuple[str, Any]]:
        """What was written so far; with ``close``, nothing more is buffered after it."""
        with self.lock:
            items, self.items = self.items, []
            self.closed = self.closed or close
        return items


# Threads started under a capture, and the buffer they write to (kept off the thread
# objects themselves, which the user may look at).
_started_under: weakref.WeakKeyDictionary[threading.Thread, TaskOutput] = (
    weakref.WeakKeyDictionary())


def current_output() -> TaskOutput | None:
    """The buffer this thread's output goes to now, if any: its context's, or that of
    the statement that started the thread."""
    buffer = _current.get()
    if buffer is None and _started_under:
        buffer = _started_under.get(threading.current_thread())
    return buffer


def _capturing_start(start: Callable[[threading.Thread], None]) -> Callable[..., None]:
    """``Thread.start`` while output is routed: the new thread writes where its starter
    does. Wraps whatever ``start`` was installed then (another tool may wrap it too)."""

    def start_capturing(thread: threading.Thread) -> None:
        buffer = current_output()
        if buffer is not None and not thread.name.startswith("kernel_ext"):
            _started_under[thread] = buffer
        start(thread)

    start_capturing.__wrapped__ = start  # type: ignore[attr-defined]
    return start_capturing


@contextmanager
def capturing_into(buffer: TaskOutput) -> Iterator[None]:
    """Route this thread's (context's) output into ``buffer`` for the duration."""
    token = _current.set(buffer)
    try:
        yield
    finally:
        _current.reset(token)


class _RoutingStream:
    """Stands in for sys.stdout/sys.stderr: captured contexts buffer, others pass through."""

    def __init__(self, kind: str, target: TextIO) -> None:
        self._kind = kind
        self._target = target

    def write(self, text: str) -> int:
        buffer = current_output()
        if buffer is None or not buffer.add(self._kind, text):
            return self._target.write(text)
        return len(text)

    def flush(self) -> None:
        buffer = current_output()
        if buffer is None or buffer.closed:
            self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _DirectWrites:
    """Captures writes made to the kernel's own stream object itself.

    Code that kept a reference to the stream before the cell (a logging
    ``StreamHandler(sys.stdout)``) writes to it directly, not through
    ``sys.stdout``. While output is routed, the stream object's ``write`` is
    shadowed by an instance attribute with the same routing rule.
    """

    _NOTHING = object()

    def __init__(self, stream: Any, kind: str) -> None:
        self._stream = stream
        self._prior = stream.__dict__.get("write", self._NOTHING) if hasattr(
            stream, "__dict__") else self._NOTHING
        original = stream.write

        def write(text: str) -> int:
            buffer = current_output()
            if buffer is None or not buffer.add(kind, text):
                return original(text)
            return len(text)

        self._write = write
        try:
            stream.write = write
        except (AttributeError, TypeError):  # a stream type that refuses it: not captured
            self._stream = None

    def remove(self) -> None:
        stream = self._stream
        if stream is None or stream.__dict__.get("write") is not self._write:
            return  # someone replaced it meanwhile: theirs stays
        if self._prior is self._NOTHING:
            del stream.write
        else:
            stream.write = self._prior


class _RoutingDisplayPublisher:
    """Stands in for the shell's display publisher with the same routing rule."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
        buffer = current_output()
        if buffer is None or not buffer.add("display", (data, metadata, args, kwargs)):
            self._target.publish(data, metadata, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _Routing:
    """Installs the routing streams once for any number of overlapping jobs.

    Foreground cells and background jobs overlap in any order, so the
    streams are installed by the first user and put back by the last one
    (and only if nobody replaced them in between).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: tuple[Any, Any, Any, Any] | None = None  # out, err, shell, display_pub
        self._thread_start: tuple[Any, Any] | None = None  # (the one we replaced, ours)
        self._direct: list[_DirectWrites] = []
        # Every routing stream ever installed, by (kind, id of the stream it wraps); each
        # holds the stream it wraps, so no id is reused. Never emptied: see the module
        # docstring (a few objects for the kernel's life).
        self._streams: dict[tuple[str, int], _RoutingStream] = {}

    def acquire(self, shell: Any | None) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            saved_out, saved_err = sys.stdout, sys.stderr
            saved_pub = getattr(shell, "display_pub", None)
            self._saved = (saved_out, saved_err, shell, saved_pub)
            self._direct = [_DirectWrites(saved_out, "stdout"), _DirectWrites(saved_err, "stderr")]
            sys.stdout = self._stream("stdout", saved_out)  # type: ignore[assignment]
            sys.stderr = self._stream("stderr", saved_err)  # type: ignore[assignment]
            if saved_pub is not None:
                shell.display_pub = _RoutingDisplayPublisher(saved_pub)
            replaced = threading.Thread.start
            ours = _capturing_start(replaced)
            self._thread_start = (replaced, ours)
            threading.Thread.start = ours  # type: ignore[method-assign]

    def _stream(self, kind: str, target: Any) -> _RoutingStream:
        """With the lock held: the routing stream over ``target``, made the first time."""
        stream = self._streams.get((kind, id(target)))
        if stream is None:
            stream = self._streams[(kind, id(target))] = _RoutingStream(kind, target)
        return stream

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._saved is None:
                return
            saved_out, saved_err, shell, saved_pub = self._saved
            self._saved = None
            for direct in self._direct:
                direct.remove()
            self._direct = []
            if self._thread_start is not None:
                replaced, ours = self._thread_start
                self._thread_start = None
                if threading.Thread.start is ours:
                    threading.Thread.start = replaced  # type: ignore[method-assign]
            if isinstance(sys.stdout, _RoutingStream):
                sys.stdout = saved_out
            if isinstance(sys.stderr, _RoutingStream):
                sys.stderr = saved_err
            if saved_pub is not None and isinstance(shell.display_pub, _RoutingDisplayPublisher):
                shell.display_pub = saved_pub


_routing = _Routing()


def acquire_routing(shell: Any | None) -> None:
    """Route task output into buffers until the matching :func:`release_routing`."""
    _routing.acquire(shell)


def release_routing() -> None:
    _routing.release()


@contextmanager
def routed_output(shell: Any | None) -> Iterator[None]:
    """Install the routing streams (and display publisher) for the duration of a job."""
    acquire_routing(shell)
    try:
        yield
    finally:
        release_routing()


def replay(items: list[tuple[str, Any]], shell: Any | None) -> None:
    """Write captured output for real, from the calling thread."""
    for kind, payload in items:
        if kind == "stdout":
            sys.stdout.write(payload)
        elif kind == "stderr":
            sys.stderr.write(payload)
        elif shell is not None:
            data, metadata, args, kwargs = payload
            shell.display_pub.publish(data, metadata, *args, **kwargs)
    if items:
        sys.stdout.flush()
        sys.stderr.flush()


class OrderedRelease:
    """Releases statement outputs in statement order, each once every earlier one has ended."""

    def __init__(self, count: int) -> None:
        self.buffers = [TaskOutput() for _ in range(count)]
        self._ended = [False] * count
        self._next = 0
        self._lock = threading.Lock()

    def mark_ended(self, index: int) -> None:
        with self._lock:
            self._ended[index] = True

    def release_ready(self, shell: Any | None, stop_before: int | None = None) -> None:
        """Replay every buffer whose statement and all earlier ones have ended.

        The first unfinished statement's output so far is released too: it is
        next in order, so nothing can come before it. ``stop_before`` caps the
        release (a failing statement's successors never print).
        """
        limit = len(self.buffers) if stop_before is None else stop_before
        while self._next < limit:
            # Read "ended" before taking the output: a statement that ends between the
            # two would otherwise leave its last lines behind, never to be released.
            with self._lock:
                ended = self._ended[self._next]
            buffer = self.buffers[self._next]
            replay(buffer.take(close=True) if ended else buffer.take(), shell)
            if not ended:
                return
            self._next += 1

    def release_rest(self, shell: Any | None) -> None:
        """Replay whatever every statement printed so far, in order, ended or not (a job's end)."""
        for buffer in self.buffers[self._next:]:
            replay(buffer.take(close=True), shell)
        self._next = len(self.buffers)

    def close(self) -> None:
        """The cell is over: threads its statements started now write straight through."""
        for buffer in self.buffers:
            buffer.take(close=True)
