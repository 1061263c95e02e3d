"""Sending a background job's output to the cell that started it.

ipykernel 7 keeps the current cell (the "parent" of every output message) in
context variables with a kernel-wide fallback, so output from a thread goes to
whichever cell runs *now* unless the thread says otherwise. The cell that
starts a job captures its parent; the thread that releases the job's output
sets it as its own parent first (``set_thread_parent`` on the shell, which
covers stdout, stderr, the display publisher and the display hook). ipykernel 6
has no such method: there the private ``_parent_header`` context variables of
the same objects do the same job, when present.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def current_parent(shell: Any) -> dict[str, Any] | None:
    """The request of the cell running now (None outside a kernel)."""
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    if get_parent is not None:
        return get_parent()  # type: ignore[no-any-return]
    return getattr(shell, "parent_header", None)


@contextmanager
def output_to(shell: Any, parent: dict[str, Any] | None) -> Iterator[None]:
    """Send this thread's stream and display output to ``parent``'s cell for the duration."""
    if shell is None or not parent:
        yield
        return
    set_parent = getattr(shell, "set_thread_parent", None)
    if set_parent is not None:
        tokens = set_parent(parent)
        try:
            yield
        finally:
            _flush()
            shell.reset_thread_parent(tokens)
        return
    resets: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] = []
    header = parent.get("header", parent)
    for obj in (sys.stdout, sys.stderr, getattr(shell, "display_pub", None)):
        var = getattr(obj, "_parent_header", None)
        if isinstance(var, contextvars.ContextVar):
            resets.append((var, var.set(header)))
    try:
        yield
    finally:
        _flush()
        for var, token in reversed(resets):
            var.reset(token)


def show_error(shell: Any, parent: dict[str, Any] | None, error: BaseException) -> None:
    """Show ``error`` as an error output of ``parent``'s cell, rendered like the cell's own."""
    tb = getattr(shell, "InteractiveTB", None)
    if tb is None:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
        return
    stb = tb.structured_traceback(type(error), error, error.__traceback__)
    kernel = getattr(shell, "kernel", None)
    session = getattr(kernel, "session", None)
    if session is None or not parent:
        print(tb.stb2text(stb), file=sys.stderr)
        return
    _flush()  # the job's output comes before its error
    content = {"ename": type(error).__name__, "evalue": str(error), "traceback": stb}
    session.send(kernel.iopub_socket, "error", content, parent=parent, ident=b"error")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or odd stream must not stop the job
            stream.flush()
