"""Run foreground ``%%parallel`` cells as awaiting cells, so a Cancel click reaches the kernel.

While a cell runs, the kernel's main thread handles no widget messages, so a
button's click would wait for the cell to end (``shared/KERNEL_NOTES.md``).
ipykernel 7.4 dispatches widget messages while a cell *awaits* on the
kernel's event loop. So, in such a kernel, a ``%%parallel`` cell is rewritten
(before IPython turns it into ``run_cell_magic``) into::

    await get_ipython().find_cell_magic('parallel').__self__.parallel_awaiting(line, body)

and the magic waits for its job with ``asyncio.sleep`` instead of blocking.
The kernel then turns an interrupt into the cancellation of that await, which
the run turns back into the ``KeyboardInterrupt`` a plain cell raises.

Only the cell the kernel is about to run is rewritten: magics that transform
a body while a cell runs (``%%time``, ``%%capture``, the magic itself) get
IPython's usual code. Terminal IPython (no widgets), ``%autoawait``
set to another loop and ``%pdb on`` (the debugger must run as for a plain,
non-awaiting cell) keep the blocking path, with no Cancel button; the
kernel's interrupt stops a cell either way.
"""

from __future__ import annotations

import ast
import re
from typing import Any

AWAITING_METHOD = "parallel_awaiting"
_FIRST_LINE = re.compile(r"%%parallel(?:[ \t]+(?P<line>.*?))?[ \t]*\n?\Z")


def kernel_handles_clicks_while_awaiting(shell: Any) -> bool:
    """True when ``shell`` is a kernel's and a cell's top-level await runs on its event loop.

    ipykernel 7.4 (the version kernel_ext requires) serves widget messages then.
    """
    if getattr(shell, "kernel", None) is None or not getattr(shell, "autoawait", False):
        return False
    if getattr(shell, "call_pdb", False):
        # %pdb on: the debugger opens while IPython shows the error. A failing debugger
        # (no stdin) ends an awaiting cell without a reply, a plain cell with an error.
        return False
    try:
        from IPython.core.interactiveshell import _asyncio_runner  # type: ignore[attr-defined]
    except ImportError:
        return False
    return shell.loop_runner is _asyncio_runner  # not e.g. %autoawait trio


def rewrite_parallel_cell(lines: list[str]) -> list[str]:
    """IPython input transformer: a ``%%parallel`` cell becomes an awaited call of the magic.

    Other cells, ``%%parallel?`` and cells whose shell cannot serve clicks
    while awaiting are left to IPython's own cell-magic transform.
    """
    if not lines or not lines[0].startswith("%%parallel") or _running.depth:
        return lines
    first = _FIRST_LINE.match(lines[0])
    if first is None:
        return lines  # %%parallel? (help) or another magic whose name starts so
    from IPython import get_ipython

    if not kernel_handles_clicks_while_awaiting(get_ipython()):
        return lines
    line = (first.group("line") or "").strip()  # as IPython's own transform strips it
    body = "".join(lines[1:])
    call = (f"await get_ipython().find_cell_magic('parallel').__self__."
            f"{AWAITING_METHOD}({line!r}, {body!r})\n")
    return [call]


def awaited_magic_call(tree: ast.Module) -> tuple[str, str] | None:
    """``(line, body)`` when ``tree`` is a cell this module rewrote, else None.

    For code that reads cells as IPython left them (the background sync).
    """
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    awaited = tree.body[0].value
    if not isinstance(awaited, ast.Await) or not isinstance(awaited.value, ast.Call):
        return None
    call = awaited.value
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == AWAITING_METHOD):
        return None
    args = [a.value if isinstance(a, ast.Constant) else None for a in call.args]
    if len(args) != 2 or not all(isinstance(a, str) for a in args):
        return None
    return args[0], args[1]


class _RunningCells:
    """How many cells are executing now (a cell may run another with ``run_cell``).

    The kernel transforms a cell before it starts it; a transform while a
    cell runs is a magic transforming its body.
    """

    def __init__(self) -> None:
        self.depth = 0

    def started(self) -> None:
        self.depth += 1

    def ended(self) -> None:
        self.depth = max(0, self.depth - 1)


_running = _RunningCells()


def install(shell: Any) -> None:
    """Put the rewrite among ``shell``'s input transformers (once)."""
    for event, callback in (("pre_execute", _running.started), ("post_execute", _running.ended)):
        if callback not in shell.events.callbacks[event]:
            shell.events.register(event, callback)
    cleanup = shell.input_transformers_cleanup
    ours = rewrite_parallel_cell.__name__
    cleanup[:] = [t for t in cleanup if getattr(t, "__name__", "") != ours]
    cleanup.append(rewrite_parallel_cell)
