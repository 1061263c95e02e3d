"""The kernel's process-wide settings, taken along to a worker process for each task.

A worker process has its own working directory, import path, environment,
``decimal`` context and numpy error handling, fixed when it started. A
statement run there must see the kernel's, as the plain cell would at that
point (``np.load('a.npy')`` after ``os.chdir``, ``Decimal(1) / 7`` after
``getcontext().prec = 5``). They are captured in the kernel when the task is
due (a few microseconds) and put in place in the worker before it runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProcessState:
    cwd: str
    path: tuple[str, ...]
    environ: tuple[tuple[str, str], ...]
    decimal_context: Any  # decimal.Context, when decimal is loaded in the kernel
    numpy_errors: dict[str, str] | None  # np.geterr(), when numpy is loaded


def capture(context: contextvars.Context | None = None) -> ProcessState:
    """In the kernel: the settings a worker must share.

    ``context``: the context variables the statement sees (the cell's, taken on
    the kernel's main thread: an engine thread has a ``decimal`` context of
    its own); without it, the calling thread's.
    """
    decimal = sys.modules.get("decimal")
    numpy = sys.modules.get("numpy")
    decimal_context = None
    if decimal is not None:
        decimal_context = _decimal_context_in(context) if context is not None else None
        decimal_context = (decimal_context or decimal.getcontext()).copy()
    return ProcessState(
        cwd=os.getcwd(),
        path=tuple(sys.path),
        environ=tuple(os.environ.items()),
        decimal_context=decimal_context,
        numpy_errors=numpy.geterr() if numpy is not None else None,
    )


def _decimal_context_in(context: contextvars.Context) -> Any:
    """The ``decimal`` context set in ``context`` (decimal keeps it in a private variable)."""
    for variable, value in context.items():
        if variable.name == "decimal_context":
            return value
    return None


@contextlib.contextmanager
def applied(state: ProcessState | None) -> Iterator[None]:
    """In the worker: run with the kernel's settings (the thread-local ones are put back)."""
    if state is None:
        yield
        return
    if os.getcwd() != state.cwd:
        os.chdir(state.cwd)
    if tuple(sys.path) != state.path:
        sys.path[:] = state.path
    environ = dict(state.environ)
    if dict(os.environ) != environ:
        os.environ.clear()
        os.environ.update(environ)
    with contextlib.ExitStack() as stack:
        if state.decimal_context is not None:
            import decimal

            stack.enter_context(decimal.localcontext(state.decimal_context))
        if state.numpy_errors is not None:
            import numpy

            stack.enter_context(numpy.errstate(**state.numpy_errors))
        yield
