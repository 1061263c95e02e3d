"""The kernel's process-wide settings, taken along to a worker process for each task.

A worker process has its own working directory, import path, environment,
``decimal`` context, numpy error handling and print options, pandas options
and global random generators, fixed when it started. A statement run there
must see the kernel's, as the plain cell would at that point
(``np.load('a.npy')`` after ``os.chdir``, ``Decimal(1) / 7`` after
``getcontext().prec = 5``, ``repr(df)`` after ``pd.set_option(...)``).
They are captured in the kernel when the task is due (about 0.1 ms, most of
it pandas' options) and put in place in the worker for the task.

The global random generators are sent too, but a statement that draws from
one (``df.sample(3)`` after ``np.random.seed(0)``) must draw from the
kernel's own, which a copy cannot advance: :func:`drew_random` tells, and the
statement then runs in the kernel.

Settings held in context variables (``decimal``'s context, numpy's error
handling and print options) are read in the context the caller runs
:func:`capture` in: the cell's, not an engine thread's own.
"""

from __future__ import annotations

import contextvars
import functools
import os
import random
import sys
from dataclasses import dataclass
from typing import Any

from kernel_ext.cell import random_state
from kernel_ext.cell.random_state import drew_random

__all__ = ["ProcessState", "applied", "capture", "captured_in", "drew_random",
           "loaded_module"]


@dataclass(frozen=True)
class ProcessState:
    cwd: str | None  # None when the kernel's own directory was removed
    path: tuple[str, ...]
    environ: tuple[tuple[str, str], ...]
    decimal_context: Any  # decimal.Context, when decimal is loaded in the kernel
    numpy_errors: dict[str, str] | None  # np.geterr(), when numpy is loaded
    numpy_print: dict[str, Any] | None  # np.get_printoptions()
    pandas_options: tuple[tuple[str, Any], ...]  # options not at their defaults
    random_state: Any  # random.getstate()
    numpy_random_state: Any  # np.random.get_state(), when numpy is loaded

    @functools.cached_property
    def numpy_key_bytes(self) -> bytes:
        """The numpy generator's key as bytes, made once per state (compared per task)."""
        return bytes(self.numpy_random_state[1].tobytes())

    @functools.cached_property
    def numpy_raw(self) -> bytes:
        """The global numpy generator's state as its C struct holds it (Mersenne Twister
        key, then position), to compare with the worker's memory directly."""
        return random_state.numpy_raw_of(self.numpy_random_state)

    @functools.cached_property
    def random_raw(self) -> bytes | None:
        """Python's global generator's state as its C struct holds it, or None."""
        return random_state.python_raw_of(self.random_state)


def capture() -> ProcessState:
    """In the kernel: the settings a worker must share (see the module docstring)."""
    decimal = loaded_module("decimal")
    numpy = loaded_module("numpy")
    return ProcessState(
        cwd=_cwd(),
        path=tuple(sys.path),
        environ=tuple(os.environ.items()),
        decimal_context=decimal.getcontext().copy() if decimal is not None else None,
        numpy_errors=numpy.geterr() if numpy is not None else None,
        numpy_print=numpy.get_printoptions() if numpy is not None else None,
        pandas_options=_changed_pandas_options(),
        random_state=random.getstate(),
        numpy_random_state=numpy.random.get_state() if numpy is not None else None,
    )


def loaded_module(name: str) -> Any:
    """Module ``name`` if it is imported and done initializing, else None.

    Another statement may be importing it right now (imports run beside statements
    that do not read what they bind): touching a half-initialized pandas from here
    made that import fail with a circular-import error.
    """
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def captured_in(context: contextvars.Context | None) -> ProcessState:
    """:func:`capture` with ``context``'s context variables (None: the caller's)."""
    return context.copy().run(capture) if context is not None else capture()


def _changed_pandas_options() -> tuple[tuple[str, Any], ...]:
    """pandas' options that differ from their defaults (read without deprecation warnings)."""
    if loaded_module("pandas") is None:
        return ()
    try:
        from pandas._config import config
    except ImportError:  # a pandas without this layout: its options are not sent
        return ()
    changed = []
    deprecated = getattr(config, "_deprecated_options", {})
    for key, option in config._registered_options.items():
        if key in deprecated:
            continue
        node: Any = config._global_config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        default = option.defval
        if node is not default and not (type(node) is type(default) and node == default):
            changed.append((key, node))
    return tuple(changed)


# In a worker: the environment last set for a task, and the raw mapping it left.
_environ_applied: tuple[tuple[str, str], ...] | None = None
_environ_raw: dict[bytes, bytes] | None = None


def _apply_environ(environ: tuple[tuple[str, str], ...]) -> None:
    """Set the worker's environment to the kernel's.

    Decoding the whole environment costs ~20 µs a task; when the kernel's is the
    one set last and the raw mapping is as that left it (a C-level compare),
    nothing is read.
    """
    global _environ_applied, _environ_raw
    raw = getattr(os.environ, "_data", None)  # CPython's undecoded mapping
    if environ == _environ_applied and raw is not None and raw == _environ_raw:
        return
    wanted = dict(environ)
    if dict(os.environ) != wanted:
        os.environ.clear()
        os.environ.update(wanted)
    _environ_applied = environ
    _environ_raw = dict(raw) if raw is not None else None


def applied(state: ProcessState | None) -> _Applied:
    """In the worker: run with the kernel's settings (the scoped ones are put back)."""
    return _Applied(state)


class _Applied:
    """:func:`applied` as a plain context manager: it is entered for every task, and a
    generator with an exit stack cost more than the settings it puts in place."""

    __slots__ = ("_state", "_scoped")

    def __init__(self, state: ProcessState | None) -> None:
        self._state = state
        self._scoped: list[Any] = []  # context managers entered, to exit in reverse

    def __enter__(self) -> None:
        state = self._state
        if state is None:
            return
        if state.cwd is not None and _cwd() != state.cwd:
            os.chdir(state.cwd)
        if tuple(sys.path) != state.path:
            sys.path[:] = state.path
        _apply_environ(state.environ)
        random_state.put_in_place(state)
        try:
            self._enter_scoped(state)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _enter_scoped(self, state: ProcessState) -> None:
        scoped = self._scoped
        if state.decimal_context is not None:
            import decimal

            scoped.append(decimal.localcontext(state.decimal_context))
            scoped[-1].__enter__()
        if state.numpy_errors is not None:
            import numpy

            if numpy.geterr() != state.numpy_errors:
                scoped.append(numpy.errstate(**state.numpy_errors))
                scoped[-1].__enter__()
            # Setting print options costs ~20 µs a task: only when they differ.
            if state.numpy_print and numpy.get_printoptions() != state.numpy_print:
                scoped.append(numpy.printoptions(**state.numpy_print))
                scoped[-1].__enter__()
        if state.pandas_options:
            import pandas

            scoped.append(pandas.option_context(
                *(item for pair in state.pandas_options for item in pair)))
            scoped[-1].__enter__()

    def __exit__(self, *exc: object) -> None:
        scoped, failed = self._scoped, None
        while scoped:  # every one is put back, even if one fails to
            try:
                scoped.pop().__exit__(None, None, None)
            except BaseException as error:  # noqa: BLE001 - raised once all are back
                failed = failed or error
        if failed is not None:
            raise failed


def _cwd() -> str | None:
    """The worker's working directory; None once a directory it was in was removed."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None
