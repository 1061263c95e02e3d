"""Errors raised in a worker process, shown in the kernel as the plain cell shows them.

A traceback cannot cross a process boundary. The worker records the frames
that matter (the cell's statement and the functions it called, not the pool's
or kernel_ext's own) as (file, line, name); the kernel raises the exception
again through stand-in frames compiled under those files and lines, so
IPython shows the cell's line and the user's functions with their source,
as it does for the plain cell, and no "direct cause" chain of machinery. The
exception's own ``__cause__`` and ``__context__`` are rebuilt the same way.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import os
import traceback
from dataclasses import dataclass
from types import CodeType, TracebackType

import cloudpickle
import loky

# Frames of the pool and of kernel_ext itself, never shown to the user.
_MACHINERY = (
    os.path.dirname(os.path.dirname(__file__)) + os.sep,  # kernel_ext/
    os.path.dirname(loky.__file__) + os.sep,
    os.path.dirname(concurrent.futures.__file__) + os.sep,
)
_CHAIN_DEPTH = 8


@dataclass(frozen=True)
class Frame:
    """What a traceback shows of one frame: where, in what, and the function's signature."""

    filename: str
    lineno: int
    name: str
    qualname: str
    first_line: int  # the line its code starts at (a ``def``: the def line)
    parameters: tuple[str, ...]  # as written in a def: ("x", "*args", "**kw")


def _frame(code: CodeType, lineno: int) -> Frame:
    count = code.co_argcount + code.co_kwonlyargcount
    names = list(code.co_varnames[:count])
    flags_at = count
    if code.co_flags & inspect.CO_VARARGS:
        names.insert(code.co_argcount, "*" + code.co_varnames[flags_at])
        flags_at += 1
    elif code.co_kwonlyargcount:
        names.insert(code.co_argcount, "*")
    if code.co_flags & inspect.CO_VARKEYWORDS:
        names.append("**" + code.co_varnames[flags_at])
    name, qualname = code.co_name, code.co_qualname
    if name.startswith("__kernel_ext"):  # a loop's iteration runs the cell's own code
        name = qualname = "<module>"
    return Frame(code.co_filename, lineno, name, qualname, code.co_firstlineno, tuple(names))


@dataclass
class RemoteError:
    """An exception from a worker, its frames (file, line, name, qualname) and its chain."""

    error: BaseException
    frames: list[Frame]
    cause: RemoteError | None = None
    context: RemoteError | None = None
    suppress_context: bool = False


def describe(error: BaseException, filename: str, depth: int = 0) -> RemoteError:
    """In the worker: what the kernel needs to show ``error`` (picklable)."""
    # IPython shows an error's cause or context in each frame where the frame ended (the
    # ``raise ... from e`` line), not where that error passed: so do the stand-ins.
    frames = [_frame(f.f_code, (f.f_lineno or lineno) if depth else lineno)
              for f, lineno in traceback.walk_tb(error.__traceback__)]
    starts = [i for i, frame in enumerate(frames) if frame.filename == filename]
    if starts:
        frames = frames[starts[0]:]
    else:
        while frames and frames[0].filename.startswith(_MACHINERY):
            frames.pop(0)
    try:
        cloudpickle.dumps(error)
        sendable: BaseException = error.with_traceback(None)
    except Exception:  # noqa: BLE001 - an exception that cannot travel is described instead
        sendable = RuntimeError(f"{type(error).__name__}: {error}")
    remote = RemoteError(sendable, frames, suppress_context=error.__suppress_context__)
    if depth < _CHAIN_DEPTH:
        if error.__cause__ is not None:
            remote.cause = describe(error.__cause__, filename, depth + 1)
        if error.__context__ is not None and error.__context__ is not error.__cause__:
            remote.context = describe(error.__context__, filename, depth + 1)
    return remote


def rebuild(remote: RemoteError) -> BaseException:
    """In the kernel: the worker's exception, raised through frames at its files and lines."""
    error = _raised_through(remote.error, remote.frames)
    error.__cause__ = rebuild(remote.cause) if remote.cause is not None else None
    error.__context__ = rebuild(remote.context) if remote.context is not None else None
    error.__suppress_context__ = remote.suppress_context
    return error


def _raised_through(error: BaseException, frames: list[Frame]) -> BaseException:
    call = None
    for frame in reversed(frames):
        call = _stand_in(frame, call, error)
    if call is None:
        return error.with_traceback(None)
    try:
        call()
    except BaseException as raised:  # noqa: BLE001 - it is `error`, now with the frames
        tb: TracebackType | None = raised.__traceback__
        return raised.with_traceback(tb.tb_next if tb is not None else None)
    raise AssertionError("unreachable: the innermost stand-in always raises")


def _stand_in(frame: Frame, call_next: object, error: BaseException) -> object:
    """A function whose one frame shows as ``frame``: its file, line, name and parameters,
    its code starting where the real one starts (IPython shows the source from there)."""
    body = "raise __kx_error" if call_next is None else "__kx_next()"
    parameters = ", ".join(p if p.startswith("*") else f"{p}=None" for p in frame.parameters)
    first = min(max(frame.first_line, 1), max(frame.lineno, 1))
    header = "\n" * (first - 1) + f"def __kx({parameters}):"
    gap = max(frame.lineno, 1) - first
    source = f"{header} {body}" if gap == 0 else header + "\n" * gap + f" {body}"
    code = compile(source, frame.filename, "exec")
    scope: dict[str, object] = {"__kx_next": call_next, "__kx_error": error}
    exec(code, scope)
    function = scope["__kx"]
    function.__code__ = function.__code__.replace(  # type: ignore[attr-defined]
        co_name=frame.name, co_qualname=frame.qualname)
    return function
