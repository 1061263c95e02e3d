"""The errors of a ``%%parallel`` cell, shown as the plain cell shows them.

A task's exception carries the engine's frames, a worker process's traceback,
or none at all (a dead worker); the user should see what the plain cell shows:
a traceback from the cell's line on, and Python's own quirks kept (PEP 479's
StopIteration in a coroutine, a comprehension's frame before 3.12).
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

from kernel_ext.analysis import Statement
from kernel_ext.cell.fanout_exec import ITERATION_FUNCTION
from kernel_ext.cell.shipping import explain_not_sendable
from kernel_ext.cell.tracebacks import mark_for_cell
from kernel_ext.errors import NotSendableError, WorkerDiedError
from kernel_ext.process_pool import RemoteTraceback
from kernel_ext.scheduler import drop_task_notes


def statement_error(error: BaseException, stmt: Statement, filename: str,
                    namespace: MutableMapping[str, Any], *, died_here: bool) -> BaseException:
    """The error statement ``stmt`` failed with, told as the cell's (``died_here``: a
    :class:`WorkerDiedError` of this statement's own worker part)."""
    if isinstance(error, NotSendableError):
        return explain_not_sendable(error, stmt, namespace)
    if isinstance(error, WorkerDiedError) and died_here:
        first_line = stmt.source.strip().splitlines()[0] if stmt.source.strip() else ""
        error.in_statement(
            f"line {stmt.lineno} ({shorten(first_line, 60)})",
            "The statements before it ran, as in the plain cell; a fresh worker "
            "process takes its place.")
        return with_cell_frame(error.with_traceback(None), filename, stmt.lineno)
    if isinstance(error.__cause__, RemoteTraceback):
        return at_cell_line(error, filename, stmt.lineno)
    return error


def through_coroutine(error: BaseException) -> BaseException:
    """`next(iter([]))` in a statement raises StopIteration, which Python turns into
    `RuntimeError: coroutine raised StopIteration` when it leaves a coroutine (PEP 479).
    The awaiting cell re-raises it as an exception of the same name and message,
    derived from RuntimeError, so the user sees the plain cell's error."""
    carrier = type(type(error).__name__, (RuntimeError,), {"__module__": "builtins"})
    copy = carrier(*error.args)
    copy.__dict__.update(vars(error))  # the mark that shows it from the cell's line
    return copy.with_traceback(error.__traceback__)


def at_cell_line(error: BaseException, filename: str, lineno: int) -> BaseException:
    """Give an error from a worker process a frame at its statement's line in the cell.

    The worker's own traceback stays as the cause only when it goes deeper than
    the statement (into a function), as the plain cell's would.
    """
    remote = error.__cause__
    assert isinstance(remote, RemoteTraceback)
    error = with_cell_frame(error, filename, lineno)
    deeper = remote.text.count('File "') > 3  # worker call, run_shipped, statement, more
    error.__cause__ = remote if deeper else None
    error.__suppress_context__ = True
    return error


def comprehension_has_a_frame() -> bool:
    """A comprehension runs in a frame of its own below the cell's before Python 3.12."""
    return sys.version_info < (3, 12)


def below_cell_line(error: BaseException, filename: str, lineno: int) -> BaseException:
    """`error` raised in a fanned-out comprehension's iteration, under a frame at the
    statement's line, as the plain cell shows it (cell line, `<listcomp>`, the function);
    the engine's frames in between are dropped."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None or tb.tb_frame.f_code.co_name != ITERATION_FUNCTION:
        return error  # already under the statement's frame (rebuilt from a worker process)
    raiser = compile("\n" * (lineno - 1) + "raise error", filename, "exec")
    try:
        exec(raiser, {"error": error.with_traceback(tb)})
    except BaseException as raised:  # noqa: BLE001 - it is `error`, under the cell frame
        outer = raised.__traceback__
        return raised.with_traceback(outer.tb_next if outer is not None else None)
    raise AssertionError("unreachable: the raiser always raises")


def with_cell_frame(error: BaseException, filename: str, lineno: int) -> BaseException:
    """``error`` with one traceback frame: the cell's line ``lineno`` (shown with its source)."""
    raiser = compile("\n" * (lineno - 1) + "raise error", filename, "exec")
    try:
        exec(raiser, {"error": error.with_traceback(None)})
    except BaseException as raised:  # noqa: BLE001 - it is `error`, now with the cell frame
        tb = raised.__traceback__
        return raised.with_traceback(tb.tb_next if tb is not None else None)
    raise AssertionError("unreachable: the raiser always raises")


def for_user(error: BaseException, filename: str) -> BaseException:
    """The task's exception as the plain cell would show it: from the cell's frame on."""
    drop_task_notes(error)
    tb: TracebackType | None = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is not None:
        error = error.with_traceback(tb)
    return mark_for_cell(error, filename)


def shorten(text: str, width: int) -> str:
    """``text`` stripped, cut to ``width`` characters with an ellipsis."""
    text = text.strip()
    return text if len(text) <= width else text[: width - 1] + "…"
