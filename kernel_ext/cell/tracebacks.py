"""Show a ``%%parallel`` cell's error the way IPython shows the plain cell's.

Raised from the magic, the error's traceback would start with the frames of
the magic machinery (``get_ipython().run_cell_magic(...)``, the runner). The
runner marks the exceptions it raises for the user with the file name its
statements were compiled under; the custom exception handler installed here
shows such an exception from the first frame in that file, and a syntax error
without any stack, exactly as IPython does for a plain cell. Every other
exception goes to whatever handler was there before, or to IPython's default.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

_MARK = "_kernel_ext_cell_file"


def mark_for_cell(error: BaseException, filename: str) -> BaseException:
    """Note on ``error`` that its traceback should be shown from ``filename`` on."""
    with contextlib.suppress(Exception):  # exception types that refuse attributes
        setattr(error, _MARK, filename)
    return error


def install(shell: Any) -> None:
    """Route marked exceptions to our display, everything else to the previous handler."""
    if getattr(shell, "_kernel_ext_tracebacks", False):
        return
    previous_types: tuple[type[BaseException], ...] = tuple(shell.custom_exceptions)
    previous_handler = shell.CustomTB if previous_types else None

    def handler(shell: Any, etype: type, value: BaseException, tb: TracebackType | None,
                tb_offset: int | None = None) -> None:
        filename = getattr(value, _MARK, None)
        if filename is not None:
            with contextlib.suppress(AttributeError):
                delattr(value, _MARK)  # shown once; a re-raise elsewhere is shown plainly
            if isinstance(value, SyntaxError):
                _show_syntax_error(shell, value, tb, filename)
            else:
                shell.showtraceback((etype, value, _from_file(tb, filename)), tb_offset=0)
            return None
        if previous_handler is not None and issubclass(etype, previous_types):
            previous_handler(etype, value, tb, tb_offset=tb_offset)
            return None
        shell.showtraceback(running_compiled_code=True)
        return None

    # KeyboardInterrupt too: an interrupted cell's is shown from the statement it stopped.
    shell.set_custom_exc((Exception, KeyboardInterrupt), handler)
    shell._kernel_ext_tracebacks = True


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
