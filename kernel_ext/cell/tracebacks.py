"""Show a ``%%parallel`` cell's error the way IPython shows the plain cell's.

Raised from the magic, the error's traceback would start with the frames of
the magic machinery (``get_ipython().run_cell_magic(...)``, the runner). The
runner marks the exceptions it raises for the user with the file name its
statements were compiled under (the file the plain cell would get).

A marked exception gets a ``_render_traceback_`` of its own: IPython's
``showtraceback`` renders it with that (from the first frame in the cell's
file on) and then goes on exactly as for a plain cell's error, ``%pdb``'s
debugger included. Nothing of ours runs around the debugger, so a debugger
that fails (no stdin in a headless kernel) fails as it does for the plain
cell, and IPython never unregisters anything of ours.

Syntax errors do not take ``_render_traceback_``: IPython shows them through
its syntax-error path, with a stack when code was running. A custom exception
handler, registered for ``SyntaxError`` only (IPython never opens the
debugger for those), shows a marked one as the plain cell shows it: without a
stack when it is in the cell's own text, from the statement on when a
statement raised it (``df.query("cost >")``). Unmarked syntax errors are shown
as IPython would show them (or by the handler that was there before). The
handler never raises: IPython would unregister it.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

_MARK = "_kernel_ext_cell_file"


class _CellTraceback:
    """``_render_traceback_`` of a marked exception: IPython's own rendering, cut to the cell."""

    def __init__(self, error: BaseException, filename: str) -> None:
        self._error = error
        self._filename = filename

    def __call__(self) -> list[str]:
        from IPython import get_ipython

        error = self._error
        shell = get_ipython()
        # Cut the error's own traceback too: IPython shows it again, in full, as the
        # context of an error raised while handling it (a debugger that found no stdin).
        error.__traceback__ = _from_file(error.__traceback__, self._filename)
        return list(shell.InteractiveTB.structured_traceback(
            type(error), error, error.__traceback__, tb_offset=0))


def mark_for_cell(error: BaseException, filename: str) -> BaseException:
    """Note on ``error`` that its traceback should be shown from ``filename`` on."""
    with contextlib.suppress(Exception):  # exception types that refuse attributes
        if isinstance(error, SyntaxError):
            setattr(error, _MARK, filename)
        else:
            error._render_traceback_ = _CellTraceback(error, filename)  # type: ignore[attr-defined]
    return error


def install(shell: Any) -> None:
    """Show marked syntax errors as the plain cell's; anything else goes where it went before."""
    if getattr(shell, "_kernel_ext_tracebacks", False):
        return
    previous_types: tuple[type[BaseException], ...] = tuple(shell.custom_exceptions)
    previous_handler = shell.CustomTB if previous_types else None

    def handler(shell: Any, etype: type, value: BaseException, tb: TracebackType | None,
                tb_offset: int | None = None) -> None:
        try:
            filename = getattr(value, _MARK, None)
            if filename is not None and isinstance(value, SyntaxError):
                with contextlib.suppress(AttributeError):
                    delattr(value, _MARK)  # shown once; a re-raise elsewhere is shown plainly
                _show_syntax_error(shell, value, tb, filename)
            elif previous_handler is not None and issubclass(etype, previous_types):
                previous_handler(etype, value, tb, tb_offset=tb_offset)
            elif issubclass(etype, SyntaxError) and not _ran_cell_code(shell, tb):
                shell.showsyntaxerror()  # the cell's text did not compile: IPython's way
            else:
                shell.showtraceback(running_compiled_code=True)
        except Exception:  # noqa: BLE001 - raising would make IPython drop this handler
            with contextlib.suppress(Exception):
                shell.showtraceback((etype, value, tb))
        return None

    types = (SyntaxError, *(t for t in previous_types if not issubclass(t, SyntaxError)))
    shell.set_custom_exc(types, handler)
    shell._kernel_ext_tracebacks = True


def _ran_cell_code(shell: Any, tb: TracebackType | None) -> bool:
    """True when ``tb`` passes through a cell's code (raised while the cell ran)."""
    cells = getattr(shell.compile, "_filename_map", None) or {}
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in cells:
            return True
        tb = tb.tb_next
    return False


def _show_syntax_error(
    shell: Any, value: SyntaxError, tb: TracebackType | None, filename: str
) -> None:
    """In the cell's own text: no stack, as IPython shows it. Raised while a statement
    ran (`df.query("cost >")`): from the statement's frame on, as a plain cell shows it
    (IPython reads the stack of the exception being handled, so it is cut there)."""
    in_cell = tb
    while in_cell is not None and in_cell.tb_frame.f_code.co_filename != filename:
        in_cell = in_cell.tb_next
    if in_cell is None:
        shell.showsyntaxerror()
        return
    value.__traceback__ = in_cell
    shell.showtraceback(running_compiled_code=True)


def _from_file(tb: TracebackType | None, filename: str) -> TracebackType | None:
    first = tb
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return tb if tb is not None else first


__all__ = ["install", "mark_for_cell"]
